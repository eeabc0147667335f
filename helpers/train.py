"""Train one model end to end: the function the notebooks call, and its command line.

    python -m helpers.train --model cct_2_3x2 --recipe short --epochs 30 --out runs/cct_2_3x2

writes to --out: config.json, history.csv (one row per epoch), last.keras, best.keras
and results.json. Running the same command again after an interruption resumes from the
last completed epoch.
"""

import argparse
import csv
import dataclasses
import json
import platform
import time
from pathlib import Path

import numpy as np

import keras

from helpers.data import BatchMixing, make_datasets
from helpers.models import count_parameters, create_model
from helpers.runtime import PRECISIONS, SingleDeviceStrategy, accelerator, choose_precision, set_seed
from helpers.training import compile_model, fit, get_recipe
from helpers.training import steps_per_epoch as default_steps_per_epoch


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

    With `out`, the run folder keeps a backup every epoch: calling `train` again with the
    same arguments after an interruption resumes, and the returned history holds every
    epoch, also those of earlier sessions.

    `steps_per_epoch` fixes the optimizer steps between two evaluations, cycling through
    the training images as often as needed: runs on training sets of different sizes then
    get the same number of steps.

    `precision`: "auto" (see `helpers.runtime.choose_precision`), "float32" or "mixed_bfloat16"."""
    overrides = {key: value for key, value in (("epochs", epochs), ("batch_size", batch_size)) if value is not None}
    recipe = get_recipe(recipe, **overrides)
    if out is not None:
        out = Path(out)
        logged = logged_epochs(out)
        if (out / "results.json").exists():
            if len(logged) != recipe.epochs:
                raise ValueError(
                    f"{out} holds a finished run of {len(logged)} epochs, not {recipe.epochs}: "
                    "its schedule cannot be stretched, so train into a new folder."
                )
            print(f"{out} already holds a finished run of {len(logged)} epochs: loading it, not training again.")
            finished = keras.models.load_model(out / "last.keras")
            return TrainingRun(finished, _columns(logged), json.loads((out / "results.json").read_text()))
    strategy = strategy or SingleDeviceStrategy()
    (x_train, y_train), (x_test, y_test) = data
    num_classes = model_overrides.pop("num_classes", 10)
    precision = choose_precision(precision)
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
        model = create_model(
            model_name, num_classes=num_classes, image_size=x_train.shape[1], dtype=precision, **model_overrides
        )
        compile_model(model, recipe, steps)

    callbacks = [mixing.callback] if mixing else []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        config = {
            "model": model_name, "model_overrides": model_overrides, "seed": seed, "steps_per_epoch": steps_per_epoch,
            "precision": precision, **dataclasses.asdict(recipe),
        }
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        checkpoint = keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_accuracy", save_best_only=True)
        if logged:  # resuming: only a better epoch than those already logged replaces best.keras
            checkpoint.best = max(float(row["val_accuracy"]) for row in logged)
        callbacks.append(checkpoint)

    start = time.perf_counter()
    history = fit(
        model, train_ds, test_ds, recipe.epochs, run_dir=out, verbose=verbose, callbacks=callbacks,
        steps_per_epoch=steps_per_epoch,
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
        model.save(out / "last.keras")
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return TrainingRun(model, full_history, results)


def logged_epochs(run_dir):
    """The rows of a run folder's history.csv (empty if there is none)."""
    path = Path(run_dir) / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _columns(rows):
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a name from helpers.models.list_models()")
    parser.add_argument("--recipe", default="short", help="paper or short")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--out", required=True, type=Path, help="run folder; an existing one is resumed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="auto: bfloat16 where the device computes it natively")
    parser.add_argument("--sample", action="store_true", help="train on the shipped CIFAR-10 sample (quick checks)")
    parser.add_argument("--train-images", type=int, help="use only the first N training images")
    parser.add_argument("--test-images", type=int, help="evaluate on the first N test images only")
    args = parser.parse_args(argv)

    from helpers.data import load_cifar10, load_cifar10_sample

    (x_train, y_train), (x_test, y_test) = load_cifar10_sample() if args.sample else load_cifar10()
    data = (x_train[: args.train_images], y_train[: args.train_images]), (x_test[: args.test_images], y_test[: args.test_images])
    try:
        run = train(
            args.model, data, recipe=args.recipe, epochs=args.epochs, batch_size=args.batch_size, out=args.out,
            seed=args.seed, precision=args.precision, verbose=2,
        )
    except FloatingPointError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(run.results, indent=2))


if __name__ == "__main__":
    main()
