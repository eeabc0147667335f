"""Train one model end to end: the function the notebooks call, the training loop under it,
and its command line.

    python -m helpers.train --model cct_2_3x2 --minutes 15 --out runs/cct_2_3x2
    python -m helpers.train --model cct_2_3x2 --recipe short --epochs 30 --out runs/cct_2_3x2_30

writes to --out: config.json, history.csv (one row per epoch), last.keras, best.keras
and results.json (`helpers.run_folder` writes them all). Running the same command again after
an interruption (a kill included) resumes from the last completed epoch; the README's "Run
folders" says what else a run folder guarantees. With CCT_SMOKE=1, as in the notebooks, it
trains one epoch on a slice of the shipped sample unless flags say otherwise.

A budget (`minutes`, `--minutes`) replaces the epochs: the first steps are timed, the epochs
that fit are chosen (the recipe's warm-up, decay and cool-down laid out over them), the
estimate is printed before training starts, and training stops at the end of the first epoch
that would end past the budget.
"""

import argparse
import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

import keras

from helpers import run_folder
from helpers.data import BatchMixing, check_images_and_labels, check_num_classes, is_whole_number, make_datasets
from helpers.device import (
    PRECISION_VARIABLE,
    PRECISIONS,
    SingleDeviceStrategy,
    accelerator,
    choose_precision,
    num_replicas,
    set_seed,
)
from helpers.models import build_compact_transformer, count_parameters, create_model, list_models
from helpers.notebook import MINUTES_VARIABLE, SMOKE_TEST_IMAGES, SMOKE_TRAIN_IMAGES, SMOKE_VARIABLE, smoke_mode
from helpers.recipes import Recipe, batch_scale, compile_model, get_recipe
from helpers.recipes import steps_per_epoch as default_steps_per_epoch
from helpers.run_folder import (
    BestCheckpoint,
    RunFolderError,
    RunFolderLock,
    RunFolderLog,
    keras_file_is_whole,
    read_history,
    restore_backup,
    write_history,
)

# Timed training steps before a budgeted run chooses its epochs, after one step that compiles and
# PROBE_WARMUP_STEPS more, untimed.
PROBE_WARMUP_STEPS, PROBE_STEPS = 15, 30
PLANNING_MARGIN = 1.1
# Runs this long print their estimated duration before they start.
LONG_RUN_EPOCHS = 50


@dataclasses.dataclass
class TrainingRun:
    model: keras.Model
    history: dict
    results: dict


def train(
    model_name,
    data,
    *,
    recipe="short",
    epochs=None,
    minutes=None,
    batch_size=None,
    out=None,
    strategy=None,
    seed=0,
    verbose=2,
    steps_per_epoch=None,
    precision="auto",
    **model_overrides,
):
    """Build `model_name`, train it on `data` = ((x_train, y_train), (x_test, y_test)) and
    evaluate it on the test split. Returns a TrainingRun(model, history, results).

    `minutes`: a wall-clock budget for training (its per-epoch evaluations and compilation
    included) instead of `epochs`: the epochs that fit are measured and chosen before training
    starts (at most the recipe's own), and training stops at the end of an epoch if the budget
    runs out all the same.
    Without either, the recipe's epochs.

    With `out`, a run folder (see the README's "Run folders"): its config.json records what
    this call asked for, and the folder then belongs to that run. Calling `train` again with
    the same arguments after an interruption resumes from the last completed epoch (a budgeted
    run keeps the epochs it chose), and the returned history holds every epoch, also those of
    earlier sessions; after the run has finished, it loads the result instead of training
    again. A call with other arguments is refused, naming what differs; so is a second live
    run into the same folder.

    `batch_size` is the global batch (all replicas together), a multiple of the replicas; the
    learning rates follow it by the rule of `helpers.recipes`. Training drops the last partial
    batch of an epoch; the test split is padded to whole replicas with rows of weight 0, which
    leave its loss and accuracy as they are (`helpers.data.make_datasets`).

    `steps_per_epoch` fixes the optimizer steps between two evaluations, cycling through
    the training images as often as needed: runs on training sets of different sizes then
    get the same number of steps.

    `precision`: "auto" (see `helpers.device.choose_precision`: CCT_PRECISION when set, else
    bfloat16 where the device computes it natively), "float32" or "mixed_bfloat16"."""
    if epochs is not None and minutes is not None:
        raise ValueError("Give epochs or minutes (a time budget), not both.")
    minutes = _check_minutes(minutes)
    overrides = {key: value for key, value in (("epochs", epochs), ("batch_size", batch_size)) if value is not None}
    recipe = get_recipe(recipe, **overrides)
    _check_model_overrides(model_overrides, recipe)
    if model_name not in list_models():
        raise ValueError(f"Unknown model {model_name!r}. Valid names: {', '.join(list_models())}.")
    (x_train, y_train), (x_test, y_test) = _split(data)
    num_classes = check_num_classes(model_overrides.pop("num_classes", 10))
    x_train, y_train = check_images_and_labels(x_train, y_train, num_classes, what="x_train")
    x_test, y_test = check_images_and_labels(x_test, y_test, num_classes, what="x_test")
    image_size = _image_size(x_train, x_test, model_overrides.pop("image_size", None))
    if steps_per_epoch is not None:
        if not is_whole_number(steps_per_epoch, 1):
            raise ValueError(f"steps_per_epoch must be a whole number >= 1 (or None: one pass over the data), got {steps_per_epoch!r}.")
        steps_per_epoch = int(steps_per_epoch)
    if not is_whole_number(seed):
        raise ValueError(f"seed must be a whole number, got {seed!r}.")
    seed = int(seed)
    precision = choose_precision(precision)
    if len(x_train) < recipe.batch_size:
        raise ValueError(
            f"{len(x_train)} training images make no full batch of {recipe.batch_size}: pass a smaller batch_size."
        )
    replicas = strategy.num_replicas_in_sync if strategy is not None else num_replicas()
    if recipe.batch_size % replicas:
        raise ValueError(
            f"batch_size {recipe.batch_size} does not split over the {replicas} replicas: pass a multiple of {replicas} "
            f"(the global batch, e.g. {-(-recipe.batch_size // replicas) * replicas})."
        )
    session = dict(
        model_name=model_name, data=((x_train, y_train), (x_test, y_test)), recipe=recipe, strategy=strategy,
        seed=seed, verbose=verbose, steps_per_epoch=steps_per_epoch, precision=precision, num_classes=num_classes,
        image_size=image_size, model_overrides=model_overrides, minutes=minutes,
    )

    def config_for(recipe):
        return _plain({
            "model": model_name, "model_overrides": model_overrides, "num_classes": num_classes,
            "image_size": image_size, "seed": seed, "steps_per_epoch": steps_per_epoch, "precision": precision,
            "minutes": minutes, **dataclasses.asdict(recipe),
            "data": _data_fingerprint(x_train, y_train, x_test, y_test),
        })

    if out is None:
        return _train_session(**session, out=None, config_for=None)
    out = Path(out).expanduser()
    with RunFolderLock(out):
        saved = run_folder.read_config(out)
        if minutes is not None and saved and saved.get("minutes") == minutes:
            # A budgeted run keeps the epochs it chose when it started.
            session["recipe"] = dataclasses.replace(recipe, epochs=saved["epochs"])
            session["minutes"] = None if run_folder.is_finished(out) else minutes
            run_folder.claim(out, config_for(session["recipe"]))
            if run_folder.is_finished(out):
                return _finished_run(out)
            session["planned"] = True
        elif minutes is None:
            run_folder.claim(out, config_for(recipe))
            if run_folder.is_finished(out):
                return _finished_run(out)
        return _train_session(**session, out=out, config_for=config_for)


def _check_minutes(minutes):
    if minutes is None:
        return None
    valid = isinstance(minutes, (int, float, np.integer, np.floating)) and not isinstance(minutes, bool)
    if not valid or not 0 < float(minutes) < math.inf:
        raise ValueError(f"minutes must be a number > 0 (a wall-clock budget), got {minutes!r}.")
    return float(minutes)


def _check_model_overrides(overrides, recipe):
    """Keyword arguments beyond train()'s own go to the model builder: name any that it lacks."""
    known = set(inspect.signature(build_compact_transformer).parameters) - {"name"}
    for key in overrides:
        if key in {field.name for field in dataclasses.fields(Recipe)}:
            raise ValueError(
                f"{key} is a recipe setting, not a model one: pass recipe=get_recipe({recipe.name!r}, {key}=...) "
                "(helpers.recipes.get_recipe)."
            )
        if key not in known:
            raise ValueError(
                f"train() got an unknown argument {key!r}. Besides its own, it passes model arguments on to "
                f"create_model: {', '.join(sorted(known))}."
            )


def _split(data):
    try:
        (x_train, y_train), (x_test, y_test) = data
    except (TypeError, ValueError):
        raise ValueError(
            "data must be ((x_train, y_train), (x_test, y_test)), as load_cifar10() returns it; "
            f"got a {type(data).__name__}{f' of {len(data)} items' if hasattr(data, '__len__') else ''}."
        ) from None
    return (x_train, y_train), (x_test, y_test)


def _image_size(x_train, x_test, requested):
    """The side of the square images, which the model is built for."""
    height, width = x_train.shape[1:3]
    if height != width:
        raise ValueError(f"The models take square images; x_train's are {height}x{width}. Crop or resize them to a square.")
    if x_test.shape[1:] != x_train.shape[1:]:
        raise ValueError(f"x_test's images are {x_test.shape[1:]}, x_train's {x_train.shape[1:]}: give both splits one size.")
    if requested is not None and requested != height:
        raise ValueError(
            f"image_size={requested!r}, but the images are {height}x{width}: train builds the model for the "
            "images' size. Drop image_size, or resize the images."
        )
    return int(height)


def _data_fingerprint(x_train, y_train, x_test, y_test):
    """Sizes and a digest of the arrays: a resume on other data would be another run."""
    digest = hashlib.blake2b(digest_size=8)
    for array in (x_train, y_train, x_test, y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return {"train_images": len(x_train), "test_images": len(x_test), "digest": digest.hexdigest()}


def _plain(value):
    """`value` as JSON reads it back (tuples as lists, NumPy numbers as Python ones), so a
    config compares equal to its saved copy."""
    return json.loads(json.dumps(value, default=lambda item: item.item() if hasattr(item, "item") else str(item)))


def _finished_run(out):
    model, rows, results = run_folder.load_finished(out)
    print(f"{out} already holds a finished run of {len(rows)} epochs: loading it, not training again.")
    return TrainingRun(model, _columns(rows), results)


def _train_session(
    *, model_name, data, recipe, strategy, seed, verbose, steps_per_epoch, precision, num_classes, image_size,
    model_overrides, out, minutes, config_for, planned=False,
):
    strategy = strategy or SingleDeviceStrategy()
    (x_train, y_train), (x_test, y_test) = data
    session_start = time.perf_counter()
    set_seed(seed)

    on_device = augments_on_device()

    def pipeline(recipe):
        """(training data, validation data, steps per epoch, callbacks): uint8 batches augmented on
        the device (`helpers.data.ImageBatches`), or tf.data augmenting on the host."""
        if on_device:
            from helpers.data import ImageBatches

            train_batches = ImageBatches(
                x_train, y_train, recipe.batch_size, augment=recipe.augment, num_classes=num_classes, seed=seed,
                shuffle=True, drop_remainder=True, random_erasing=recipe.random_erasing,
                mix_off_epoch=recipe.mix_off_epoch, steps_per_epoch=steps_per_epoch,
            )
            test = (x_test, np.eye(num_classes, dtype="float32")[y_test])  # the model pads it over replicas
            return train_batches, test, len(train_batches), []
        mixing = BatchMixing(recipe.mix_off_epoch) if recipe.augment == "paper" else None
        train_ds, test_ds = make_datasets(
            x_train, y_train, x_test, y_test, batch_size=recipe.batch_size, augment=recipe.augment,
            num_classes=num_classes, seed=seed, random_erasing=recipe.random_erasing, mixing=mixing,
            replicas=num_replicas(model),
        )
        callbacks = [mixing.callback] if mixing else []
        if steps_per_epoch is None:
            return train_ds, test_ds, default_steps_per_epoch(len(x_train), recipe.batch_size), callbacks
        return train_ds.repeat(), test_ds, steps_per_epoch, callbacks

    with strategy.scope():
        model = create_model(model_name, num_classes=num_classes, image_size=image_size, dtype=precision, **model_overrides)
    if minutes is not None and not planned:
        with strategy.scope():
            recipe = _fit_to_budget(model, recipe, minutes, pipeline(recipe), len(x_test), session_start)
        if out is not None:
            run_folder.claim(out, config_for(recipe))
    elif recipe.epochs >= LONG_RUN_EPOCHS:
        epochs_done = len(read_history(out)) if out is not None else 0
        if epochs_done < recipe.epochs:
            with strategy.scope():
                _announce_long_run(model, recipe, pipeline(recipe), len(x_test), epochs_done)
    train_data, test_data, steps, callbacks = pipeline(recipe)
    with strategy.scope():
        compile_model(model, recipe, steps)
    if batch_scale(recipe.batch_size) != 1 and verbose:
        print(f"batch {recipe.batch_size}: learning rates x{batch_scale(recipe.batch_size):.3g} (helpers.recipes)")

    if minutes is not None:
        callbacks.append(StopAtDeadline(session_start + minutes * 60))
    start = time.perf_counter()
    history = fit(
        model, train_data, test_data, recipe.epochs, run_dir=out, verbose=verbose,
        steps_per_epoch=None if on_device else steps_per_epoch, keep_best=out is not None, callbacks=callbacks,
        validation_batch_size=recipe.batch_size if on_device else None,
    )
    wall_time = time.perf_counter() - start
    epochs_run = len(history.history.get("loss", []))
    images_per_epoch = steps * recipe.batch_size
    full_history = _columns(read_history(out)) if out is not None else history.history
    if on_device:
        test_loss, test_accuracy = model.evaluate(*test_data, batch_size=recipe.batch_size, verbose=0)
    else:
        test_loss, test_accuracy = model.evaluate(test_data, verbose=0)
    results = {
        "model": model_name,
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "epochs_completed": len(full_history.get("loss", [])),
        "epochs_this_session": epochs_run,
        "minutes": minutes,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "parameters": count_parameters(model),
        "wall_time_s_this_session": round(time.perf_counter() - session_start, 1),
        "training_time_s_this_session": round(wall_time, 1),
        "steps_per_epoch": steps,
        "batch_size": recipe.batch_size,
        "train_images_per_s": round(epochs_run * images_per_epoch / wall_time, 1) if epochs_run else None,
        "device": accelerator(),
        "replicas": num_replicas(model),
        "augmentation": "device" if on_device else "host (tf.data)",
        "precision": precision,
        "backend": keras.backend.backend(),
        "versions": {"keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    if out is not None:
        run_folder.finish(out, model, results)
    return TrainingRun(model, full_history, results)


def augments_on_device():
    """Where `train()` augments: on the device, inside the training step, for every backend but
    TensorFlow and for TensorFlow on a GPU or TPU (the host only feeds uint8 batches, so 2 vCPUs
    keep up); on the host with tf.data for TensorFlow on a CPU, where it measured faster
    (`benchmarks/input_pipeline.py`: cct_2_3x2 on 2 cores, 141 against 89 images/s)."""
    return keras.backend.backend() != "tensorflow" or accelerator() != "CPU"


def _batches(data, batch_size):
    """An endless iterator over (x, y) batches of a tf.data set, an ImageBatches or NumPy arrays
    (these in batches of `batch_size`, wrapping around)."""
    if isinstance(data, tuple):
        images, labels = data
        for start in itertools.count(0, batch_size):
            rows = np.arange(start, start + batch_size) % len(images)
            yield images[rows], labels[rows]
    elif hasattr(data, "repeat"):
        yield from (batch[:2] for batch in data.repeat())
    else:
        while True:
            for index in range(len(data)):
                yield data[index]


def _measure_epoch(model, recipe, train_data, test_data, steps, test_images):
    """(seconds per epoch with its evaluation, seconds to compile) from timed training and
    evaluation steps of `model`, whose weights are put back afterwards."""
    initial = [variable.numpy() for variable in model.weights]
    compile_model(model, dataclasses.replace(recipe, epochs=1), steps)
    train_batches = _batches(train_data, recipe.batch_size)
    tic = time.perf_counter()
    model.train_on_batch(*next(train_batches))  # compiles
    compile_s = time.perf_counter() - tic
    # The input pipeline filled its buffers while the step compiled: time only steps past them,
    # when making batches competes with training for the CPU as it will all epoch.
    # At most about an epoch of each, so that on a small training set the probe does not eat the budget.
    warmup_steps, timed_steps = min(PROBE_WARMUP_STEPS, steps), min(PROBE_STEPS, max(steps, 5))
    for _ in range(warmup_steps):
        model.train_on_batch(*next(train_batches))
    tic = time.perf_counter()
    for _ in range(timed_steps):
        model.train_on_batch(*next(train_batches))
    step_s = (time.perf_counter() - tic) / timed_steps
    test_batches = _batches(test_data, recipe.batch_size)
    tic = time.perf_counter()
    model.test_on_batch(*next(test_batches))
    compile_s += time.perf_counter() - tic
    tic = time.perf_counter()
    eval_steps = min(4, math.ceil(test_images / recipe.batch_size))
    for _ in range(eval_steps):
        model.test_on_batch(*next(test_batches))
    test_step_s = (time.perf_counter() - tic) / eval_steps
    for variable, value in zip(model.weights, initial):
        variable.assign(value)
    return steps * step_s + math.ceil(test_images / recipe.batch_size) * test_step_s, compile_s, recipe.batch_size / step_s


def _fit_to_budget(model, recipe, minutes, pipeline, test_images, session_start):
    """The recipe with the epochs that fit in `minutes`, measured on `model`; prints the estimate."""
    train_data, test_data, steps, _ = pipeline
    epoch_s, compile_s, images_per_s = _measure_epoch(model, recipe, train_data, test_data, steps, test_images)
    left_s = minutes * 60 - (time.perf_counter() - session_start) - compile_s  # compiled again for the real schedule
    # Planned with PLANNING_MARGIN to spare: fit's epochs ran up to 7% slower than the probe's steps.
    epochs = min(max(1, int(left_s // (epoch_s * PLANNING_MARGIN))), recipe.epochs)  # at most the whole recipe
    print(
        f"budget {minutes:g} min: {images_per_s:,.0f} training images/s measured, {epoch_s:.0f} s per epoch with its "
        f"evaluation -> {epochs} epoch(s) of the {recipe.name} recipe"
        f"{' (all of it)' if epochs == recipe.epochs else ''}, estimated to end in "
        f"{(time.perf_counter() - session_start + compile_s + epochs * epoch_s) / 60:.1f} min"
    )
    if epochs == 1 and left_s < epoch_s:
        print("note: one epoch takes longer than the budget allows; it trains one all the same")
    return dataclasses.replace(recipe, epochs=epochs)


def _announce_long_run(model, recipe, pipeline, test_images, epochs_done):
    """Before a run of LONG_RUN_EPOCHS epochs or more (the paper's 310), print how long it will take."""
    train_data, test_data, steps, _ = pipeline
    epoch_s, compile_s, images_per_s = _measure_epoch(model, recipe, train_data, test_data, steps, test_images)
    left = recipe.epochs - epochs_done
    hours = (compile_s + left * epoch_s) / 3600
    print(
        f"{left} epoch(s) of the {recipe.name} recipe to train: {images_per_s:,.0f} training images/s measured, "
        f"{epoch_s:.0f} s per epoch with its evaluation -> estimated {hours:.1f} h (a time budget instead: "
        f"minutes=..., --minutes, {MINUTES_VARIABLE})"
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


def fit(
    model, train_data, validation_data, epochs, run_dir=None, verbose="auto", callbacks=(), steps_per_epoch=None,
    keep_best=False, validation_batch_size=None,
):
    """`model.fit` with a progress bar, a stop on NaN loss and, given `run_dir`, a CSV log
    (`history.csv`) and a backup each epoch so that the same call after an interruption
    resumes where it stopped (`helpers.run_folder`: every file whole even after a kill).
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
        run_dir.mkdir(parents=True, exist_ok=True)
        rows = restore_backup(model, run_dir)
        logged = read_history(run_dir)
        if len(logged) > len(rows):
            print(
                f"note: {run_dir / 'history.csv'} logs {len(logged)} epoch(s) but the backup holds {len(rows)}: "
                f"training resumes after epoch {len(rows)} and the log is cut to match"
            )
        write_history(run_dir, rows)  # the backup is the record: drop any row logged after it
        initial_epoch = len(rows)
        if keep_best:
            best_path = run_dir / "best.keras"
            if best_path.exists() and not keras_file_is_whole(best_path):
                print(f"warning: {best_path} is damaged; the next best epoch replaces it")
                best_path.unlink()
            logged_best = max((float(row["val_accuracy"]) for row in rows), default=None)
            all_callbacks.append(BestCheckpoint(best_path, best=logged_best if best_path.exists() else None))
        # Last, so that what the other callbacks write for an epoch is never behind its backup.
        all_callbacks.append(RunFolderLog(run_dir, rows))
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
            shuffle=False,  # the tf.data pipeline shuffles
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


class NaNLoss(RuntimeError):
    """Raised by StopOnNaN; `fit` turns it into a FloatingPointError saying what to do."""


class StopOnNaN(keras.callbacks.Callback):
    """Raises NaNLoss at the end of an epoch whose mean training loss is NaN or infinite.
    Unlike keras.callbacks.TerminateOnNaN it has no batch hook, which would read the loss off
    the device after every step (Keras then also hands each step's logs to the callbacks on
    the training thread); a NaN makes the epoch's mean NaN, so this check misses none."""

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise NaNLoss(f"the mean training loss of epoch {epoch + 1} is {float(loss)}")


def _columns(rows):
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"} if rows else {}


def _whole_number_at_least_one(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _positive_number(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def main(argv=None):
    positive = _whole_number_at_least_one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a name from helpers.models.list_models()")
    parser.add_argument("--recipe", default="short", help="a recipe of helpers.recipes: paper, short or fast")
    parser.add_argument("--epochs", type=positive, help="epochs in all (default: the recipe's)")
    parser.add_argument(
        "--minutes", type=_positive_number,
        help=f"a wall-clock training budget instead of --epochs: the epochs that fit are measured and chosen "
        f"(the notebooks' {MINUTES_VARIABLE})",
    )
    parser.add_argument("--batch-size", type=positive)
    parser.add_argument("--out", required=True, type=Path, help="run folder; an existing one is resumed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--precision", default="auto", choices=PRECISIONS,
        help=f"auto: {PRECISION_VARIABLE} when set, else bfloat16 where the device computes it natively",
    )
    parser.add_argument("--sample", action="store_true", help="train on the shipped CIFAR-10 sample (quick checks)")
    parser.add_argument("--train-images", type=positive, help="use only the first N training images")
    parser.add_argument("--test-images", type=positive, help="evaluate on the first N test images only")
    args = parser.parse_args(argv)
    if args.epochs and args.minutes:
        parser.error("give --epochs or --minutes, not both")

    from helpers.data import load_cifar10, load_cifar10_sample

    if smoke_mode():  # as in the notebooks: a quick check on a slice of the shipped sample; flags given win
        args.sample = True
        args.train_images = args.train_images or SMOKE_TRAIN_IMAGES
        args.test_images = args.test_images or SMOKE_TEST_IMAGES
        args.epochs = args.epochs or (None if args.minutes else 1)
        args.batch_size = args.batch_size or 64
        print(
            f"smoke mode ({SMOKE_VARIABLE}=1): the shipped sample, {args.train_images} training and {args.test_images} "
            f"test images, {args.epochs} epoch(s): a check that the code runs, not a result"
        )
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample() if args.sample else load_cifar10()
    for flag, wanted, available in (("--train-images", args.train_images, len(x_train)), ("--test-images", args.test_images, len(x_test))):
        if wanted is not None and wanted > available:
            parser.error(f"{flag} {wanted}: the {'sample' if args.sample else 'data set'} holds only {available}")
    data = (x_train[: args.train_images], y_train[: args.train_images]), (x_test[: args.test_images], y_test[: args.test_images])
    try:
        run = train(
            args.model, data, recipe=args.recipe, epochs=args.epochs, minutes=args.minutes, batch_size=args.batch_size,
            out=args.out,
            seed=args.seed, precision=args.precision, verbose=2,
        )
    except (FloatingPointError, RunFolderError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(run.results, indent=2))


if __name__ == "__main__":
    main()
