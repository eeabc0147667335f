"""Train one model end to end: the function the notebooks call, and its command line.

    python -m helpers.train --model cct_2_3x2 --recipe short --epochs 30 --out runs/cct_2_3x2

writes to --out: config.json, history.csv (one row per epoch), last.keras, best.keras
and results.json. Running the same command again after an interruption (a kill included)
resumes from the last completed epoch; the README's "Run folders" says what else a run
folder guarantees. With CCT_SMOKE=1, as in the notebooks, it trains one epoch on a slice of
the shipped sample unless flags say otherwise.
"""

import argparse
import dataclasses
import hashlib
import inspect
import json
import platform
import time
from pathlib import Path

import numpy as np

import keras

from helpers.data import BatchMixing, check_images_and_labels, check_num_classes, is_whole_number, make_datasets
from helpers.models import build_compact_transformer, count_parameters, create_model, list_models
from helpers.run_folder import RunFolderError, RunFolderLock, remove_backup, save_model_atomically, write_json_atomically
from helpers.run_folder import read_history as logged_epochs
from helpers.runtime import (
    PRECISION_VARIABLE,
    PRECISIONS,
    SMOKE_TEST_IMAGES,
    SMOKE_TRAIN_IMAGES,
    SMOKE_VARIABLE,
    SingleDeviceStrategy,
    accelerator,
    choose_precision,
    set_seed,
    smoke_mode,
)
from helpers.training import Recipe, compile_model, fit, get_recipe
from helpers.training import steps_per_epoch as default_steps_per_epoch


@dataclasses.dataclass
class TrainingRun:
    model: keras.Model
    history: dict
    results: dict


# Recorded in config.json but not part of the run's contract: rewording a recipe's
# description must not make its unfinished runs unresumable.
NOT_COMPARED = ("description",)
RUN_FILES = ("history.csv", "backup", "best.keras", "last.keras", "results.json")


def train(
    model_name,
    data,
    *,
    recipe="short",
    epochs=None,
    batch_size=None,
    out=None,
    strategy=None,
    seed=0,
    verbose="auto",
    steps_per_epoch=None,
    precision="auto",
    **model_overrides,
):
    """Build `model_name`, train it on `data` = ((x_train, y_train), (x_test, y_test)) and
    evaluate it on the test split. Returns a TrainingRun(model, history, results).

    With `out`, a run folder (see the README's "Run folders"): its config.json records what
    this call asked for, and the folder then belongs to that run. Calling `train` again with
    the same arguments after an interruption resumes from the last completed epoch, and the
    returned history holds every epoch, also those of earlier sessions; after the run has
    finished, it loads the result instead of training again. A call with other arguments is
    refused, naming what differs; so is a second live run into the same folder.

    `steps_per_epoch` fixes the optimizer steps between two evaluations, cycling through
    the training images as often as needed: runs on training sets of different sizes then
    get the same number of steps.

    `precision`: "auto" (see `helpers.runtime.choose_precision`: CCT_PRECISION when set, else
    bfloat16 where the device computes it natively), "float32" or "mixed_bfloat16"."""
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
    config = _plain({
        "model": model_name, "model_overrides": model_overrides, "num_classes": num_classes, "image_size": image_size,
        "seed": seed, "steps_per_epoch": steps_per_epoch, "precision": precision, **dataclasses.asdict(recipe),
        "data": _data_fingerprint(x_train, y_train, x_test, y_test),
    })
    session = dict(
        model_name=model_name, data=((x_train, y_train), (x_test, y_test)), recipe=recipe, strategy=strategy,
        seed=seed, verbose=verbose, steps_per_epoch=steps_per_epoch, precision=precision, num_classes=num_classes,
        image_size=image_size, model_overrides=model_overrides,
    )
    if out is None:
        return _train_session(**session, out=None)
    out = Path(out).expanduser()
    with RunFolderLock(out):
        _claim(out, config)
        if (out / "results.json").exists():
            return _finished_run(out)
        return _train_session(**session, out=out)


def _check_model_overrides(overrides, recipe):
    """Keyword arguments beyond train()'s own go to the model builder: name any that it lacks."""
    known = set(inspect.signature(build_compact_transformer).parameters) - {"name"}
    for key in overrides:
        if key in {field.name for field in dataclasses.fields(Recipe)}:
            raise ValueError(
                f"{key} is a recipe setting, not a model one: pass recipe=get_recipe({recipe.name!r}, {key}=...) "
                "(helpers.training.get_recipe)."
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


def _claim(out, config):
    """Write config.json into a new run folder, or check that this call asks for the run
    already recorded there; a RunFolderError lists what differs."""
    path = out / "config.json"
    if not path.exists():
        found = [name for name in RUN_FILES if (out / name).exists()]
        if found:
            raise RunFolderError(
                f"{out} holds run files ({', '.join(found)}) but no config.json, so it cannot be told whose run they "
                "are: pass another out= folder (or delete these files to start over here)."
            )
        write_json_atomically(path, config)
        return
    try:
        saved = json.loads(path.read_text())
    except ValueError as error:
        raise RunFolderError(f"{path} is damaged ({error}): pass another out= folder.") from None
    # Keys an older version did not record are not compared.
    differing = [key for key in config if key in saved and key not in NOT_COMPARED and saved[key] != config[key]]
    if not differing:
        return
    finished = (out / "results.json").exists()
    verb = "load" if finished else "resume"
    listed = "; ".join(f"{key}: {saved[key]!r} there, {config[key]!r} here" for key in differing)
    if differing == ["epochs"]:
        fix = (
            f"Its learning-rate schedule is laid out for {saved['epochs']} epochs"
            f"{' and has decayed to its minimum' if finished else ''}, so a run of {config['epochs']} epochs is "
            f"another run: pass another out= folder for it (or epochs={saved['epochs']} to {verb} this one)."
        )
    else:
        fix = f"Pass the same arguments to {verb} that run, or another out= folder for this one."
    raise RunFolderError(
        f"{out} belongs to another {'finished ' if finished else ''}run: this call differs from its config.json in "
        f"{', '.join(differing)} ({listed}). {fix}"
    )


def _finished_run(out):
    rows = logged_epochs(out)
    print(f"{out} already holds a finished run of {len(rows)} epochs: loading it, not training again.")
    remove_backup(out)  # left over when a kill came between results.json and its removal
    path = out / "last.keras"
    try:
        model = keras.models.load_model(path)
    except Exception as error:
        raise RunFolderError(
            f"{out} holds a finished run, but {path} does not load ({type(error).__name__}: {error}). "
            f"results.json still has its scores; to train it again, pass another out= folder."
        ) from error
    return TrainingRun(model, _columns(rows), json.loads((out / "results.json").read_text()))


def _train_session(
    *, model_name, data, recipe, strategy, seed, verbose, steps_per_epoch, precision, num_classes, image_size,
    model_overrides, out,
):
    strategy = strategy or SingleDeviceStrategy()
    (x_train, y_train), (x_test, y_test) = data
    set_seed(seed)
    mixing = BatchMixing(recipe.mix_off_epoch) if recipe.augment == "paper" else None
    train_ds, test_ds = make_datasets(
        x_train, y_train, x_test, y_test, batch_size=recipe.batch_size, augment=recipe.augment, num_classes=num_classes,
        seed=seed, random_erasing=recipe.random_erasing, mixing=mixing,
    )
    if steps_per_epoch is None:
        steps = default_steps_per_epoch(len(x_train), recipe.batch_size)
    else:
        steps, train_ds = steps_per_epoch, train_ds.repeat()
    with strategy.scope():
        model = create_model(model_name, num_classes=num_classes, image_size=image_size, dtype=precision, **model_overrides)
        compile_model(model, recipe, steps)

    start = time.perf_counter()
    history = fit(
        model, train_ds, test_ds, recipe.epochs, run_dir=out, verbose=verbose, steps_per_epoch=steps_per_epoch,
        keep_best=out is not None, callbacks=[mixing.callback] if mixing else [],
    )
    wall_time = time.perf_counter() - start
    epochs_run = len(history.history.get("loss", []))
    images_per_epoch = len(x_train) if steps_per_epoch is None else steps_per_epoch * recipe.batch_size
    full_history = _columns(logged_epochs(out)) if out is not None else history.history
    test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
    results = {
        "model": model_name,
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "epochs_this_session": epochs_run,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "parameters": count_parameters(model),
        "wall_time_s_this_session": round(wall_time, 1),
        "steps_per_epoch": steps,
        "train_images_per_s": round(epochs_run * images_per_epoch / wall_time, 1) if epochs_run else None,
        "device": accelerator(),
        "precision": precision,
        "backend": keras.backend.backend(),
        "versions": {"keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }
    if out is not None:
        save_model_atomically(model, out / "last.keras")
        write_json_atomically(out / "results.json", results)
        remove_backup(out)  # only now: until results.json exists, a rerun resumes from it
    return TrainingRun(model, full_history, results)


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


def main(argv=None):
    positive = _whole_number_at_least_one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a name from helpers.models.list_models()")
    parser.add_argument("--recipe", default="short", help="paper or short")
    parser.add_argument("--epochs", type=positive)
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

    from helpers.data import load_cifar10, load_cifar10_sample

    if smoke_mode():  # as in the notebooks: a quick check on a slice of the shipped sample; flags given win
        args.sample = True
        args.train_images = args.train_images or SMOKE_TRAIN_IMAGES
        args.test_images = args.test_images or SMOKE_TEST_IMAGES
        args.epochs = args.epochs or 1
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
            args.model, data, recipe=args.recipe, epochs=args.epochs, batch_size=args.batch_size, out=args.out,
            seed=args.seed, precision=args.precision, verbose=2,
        )
    except (FloatingPointError, RunFolderError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(run.results, indent=2))


if __name__ == "__main__":
    main()
