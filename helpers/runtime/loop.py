"""The training loop under `train()`: `model.fit` that resumes from its run folder after an
interruption, stops on a NaN or diverging loss, and ends at a time budget's deadline."""

import math
import time
from pathlib import Path

import keras

from helpers.runtime.checks import is_whole_number
from helpers.runtime.run_folder import (
    BestCheckpoint,
    RunFolderError,
    RunFolderLog,
    keras_file_is_whole,
    read_history,
    restore_backup,
    write_history,
)


def resumable_fit(
    model, train_data, validation_data, epochs, run_dir=None, verbose="auto", callbacks=(), steps_per_epoch=None,
    keep_best=False, validation_batch_size=None,
):
    """`model.fit` with a progress bar, a stop on NaN or diverging loss and, given `run_dir`, a CSV log
    (`history.csv`) and a backup each epoch so that the same call after an interruption
    resumes where it stopped (`helpers.runtime.run_folder`: every file whole even after a kill).
    `keep_best` also keeps the model of the best validation accuracy in `best.keras`.
    Returns the Keras History of this session's epochs.

    The backup stays after the last epoch: `train` removes it once the run's results are
    written. A NaN or infinite loss raises FloatingPointError at the end of the epoch it
    occurred in (the check reads the epoch's mean loss, which a NaN in any step makes NaN: no
    step waits for the device to report its loss), leaving the run folder as it was after the
    last completed epoch; so does a loss that diverged, a mean over DIVERGED_LOSS_FACTOR times
    chance-level cross-entropy (`StopOnDivergence`)."""
    if not is_whole_number(epochs, 1):
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    # First, so that no later callback records the epoch whose loss is NaN or diverged.
    all_callbacks = [StopOnNaN(), StopOnDivergence(), *callbacks]
    initial_epoch = 0
    if run_dir is not None:
        run_dir = Path(run_dir).expanduser()
        initial_epoch, folder_callbacks = _resume(model, run_dir, keep_best)
        all_callbacks += folder_callbacks
    try:
        return model.fit(
            train_data,
            validation_data=validation_data,
            validation_batch_size=validation_batch_size,
            epochs=int(epochs),
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            callbacks=all_callbacks,
            verbose=verbose,
            shuffle=False,  # the input pipeline shuffles
        )
    except (NaNLoss, DivergedLoss) as error:
        done = len(read_history(run_dir)) if run_dir is not None else 0
        kept = f" {run_dir} keeps the {done} epoch(s) completed before it." if done else ""
        again = " and pass another out= folder (that is another run)" if run_dir is not None else ""
        raise FloatingPointError(
            f"Training stopped: {error}.{kept} Lower the learning rate (the paper's peak is 5.5e-4), or train in "
            f"float32 (precision='float32'),{again} before going on: the same call would go the same way."
        ) from None


def _resume(model, run_dir, keep_best):
    """(the epoch to start from, the callbacks that keep `run_dir`): `model` restored from the
    newest whole backup, and history.csv cut back to it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = restore_backup(model, run_dir)
    logged = read_history(run_dir)
    if logged and not rows:
        raise RunFolderError(
            f"{run_dir / 'history.csv'} logs {len(logged)} epoch(s), but {run_dir} holds no whole backup to resume them "
            "from, and training from the start would replace them. Pass another out= folder; or, to train this run "
            "again from its start here, delete history.csv and best.keras first."
        )
    if len(logged) > len(rows):
        print(
            f"note: {run_dir / 'history.csv'} logs {len(logged)} epoch(s) but the backup holds {len(rows)}: "
            f"training resumes after epoch {len(rows)} and the log is cut to match"
        )
    write_history(run_dir, rows)  # the backup is the record: drop any row logged after it
    callbacks = []
    if keep_best:
        best_path = run_dir / "best.keras"
        if best_path.exists() and not keras_file_is_whole(best_path):
            print(f"warning: {best_path} is damaged; the next best epoch replaces it")
            best_path.unlink()
        logged_best = max((float(row["val_accuracy"]) for row in rows), default=None)
        callbacks.append(BestCheckpoint(best_path, best=logged_best if best_path.exists() else None))
    # Last, so that what the other callbacks write for an epoch is never behind its backup.
    callbacks.append(RunFolderLog(run_dir, rows))
    return len(rows), callbacks


class NaNLoss(RuntimeError):
    """Raised by StopOnNaN; `resumable_fit` turns it into a FloatingPointError saying what to do."""


class StopOnNaN(keras.callbacks.Callback):
    """Raises NaNLoss at the end of an epoch whose mean training loss is NaN or infinite.
    Unlike keras.callbacks.TerminateOnNaN it has no batch hook, which would read the loss off
    the device after every step (Keras then also hands each step's logs to the callbacks on
    the training thread); a NaN makes the epoch's mean NaN, so this check misses none."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NaNLoss(f"the loss became NaN or infinite (the mean training loss of epoch {epoch + 1} is {float(loss)})")


# An epoch whose mean training loss exceeds this many times chance-level cross-entropy has diverged.
DIVERGED_LOSS_FACTOR = 10


class DivergedLoss(RuntimeError):
    """Raised by StopOnDivergence; `resumable_fit` turns it into a FloatingPointError saying what to do."""


class StopOnDivergence(keras.callbacks.Callback):
    """Raises DivergedLoss at the end of an epoch whose mean training loss exceeds DIVERGED_LOSS_FACTOR
    times chance-level cross-entropy, ln(classes) from the model's output size: the loss of a model
    that gives every class the same probability. Training starts near it and goes below (label
    smoothing keeps the loss near or under it); ten times it takes confident wrong answers that the
    steps make worse. AdamW's steps are about the learning rate and its weight decay bounds the
    weights, so at the rates the recipes accept (up to 1) a diverging loss stays in the tens, not
    millions: cct_2_3x2's first epoch at a rate of 1 averaged 71-80 (31-35 times chance), at 0.1 5.1. A model
    without a known output size of 2 or more (a subclassed one) is not checked. Like StopOnNaN, it
    reads only the epoch's mean loss."""

    def on_train_begin(self, logs=None):
        outputs = getattr(self.model, "outputs", None)  # a subclassed model has none
        self.classes = outputs[-1].shape[-1] if outputs else None

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or not self.classes or self.classes < 2:
            return
        chance = math.log(self.classes)
        limit = DIVERGED_LOSS_FACTOR * chance
        if float(loss) > limit:
            raise DivergedLoss(
                f"the loss diverged: the mean training loss of epoch {epoch + 1} is {float(loss):.4g}, {float(loss) / limit:.3g} "
                f"times the most it may be, {limit:.1f} ({DIVERGED_LOSS_FACTOR} times ln({self.classes}) = {chance:.3f}, the loss "
                f"of guessing among {self.classes} classes)"
            )


class StopAtDeadline(keras.callbacks.Callback):
    """Ends training after the epoch whose successor would end past `deadline` (a
    time.perf_counter() value), and says so."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline
        self.epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if now + (now - self.epoch_start) > self.deadline + 1.0 and epoch + 1 < self.params.get("epochs", 0):
            self.model.stop_training = True
            print(f"stopped after epoch {epoch + 1}: the next one would end past the time budget")
