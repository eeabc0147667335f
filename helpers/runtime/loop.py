"""The training loop under `train()`: `model.fit` that resumes from its run folder after an
interruption, stops on a NaN loss, and ends at a time budget's deadline."""

import math
import time
from pathlib import Path

import keras

from helpers.runtime.checks import is_whole_number
from helpers.runtime.run_folder import (
    BestCheckpoint,
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
    """`model.fit` with a progress bar, a stop on NaN loss and, given `run_dir`, a CSV log
    (`history.csv`) and a backup each epoch so that the same call after an interruption
    resumes where it stopped (`helpers.runtime.run_folder`: every file whole even after a kill).
    `keep_best` also keeps the model of the best validation accuracy in `best.keras`.
    Returns the Keras History of this session's epochs.

    The backup stays after the last epoch: `train` removes it once the run's results are
    written. A NaN or infinite loss raises FloatingPointError at the end of the epoch it
    occurred in (the check reads the epoch's mean loss, which a NaN in any step makes NaN: no
    step waits for the device to report its loss), leaving the run folder as it was after the
    last completed epoch."""
    if not is_whole_number(epochs, 1):
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    # First, so that no later callback records the epoch whose loss is NaN.
    all_callbacks = [StopOnNaN(), *callbacks]
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
    except NaNLoss as error:
        kept = (
            f" {run_dir} keeps the last completed epoch (backup/, history.csv, best.keras): the same call resumes from it."
            if run_dir is not None
            else ""
        )
        raise FloatingPointError(
            f"Training stopped: the loss became NaN or infinite ({error}).{kept} Lower the learning rate, "
            "or train in float32 (precision='float32'), before going on."
        ) from None


def _resume(model, run_dir, keep_best):
    """(the epoch to start from, the callbacks that keep `run_dir`): `model` restored from the
    newest whole backup, and history.csv cut back to it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = restore_backup(model, run_dir)
    logged = read_history(run_dir)
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
            raise NaNLoss(f"the mean training loss of epoch {epoch + 1} is {float(loss)}")


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
