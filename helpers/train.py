"""Train one model end to end: the function the notebooks call, and its command line.

    python -m helpers.train --model cct_2_3x2 --minutes 15 --out runs/cct_2_3x2
    python -m helpers.train --model cct_2_3x2 --recipe short --epochs 30 --out runs/cct_2_3x2_30

writes to --out: config.json, history.csv (one row per epoch), last.keras, best.keras
and results.json (`helpers.runtime.run_folder` writes them all). Running the same command again after
an interruption (a kill included) resumes from the last completed epoch; docs/run_folders.md says
what else a run folder guarantees. With CCT_SMOKE=1, as in the notebooks, it
trains one epoch on a slice of the shipped sample unless flags say otherwise.

A budget (`minutes`, `--minutes`) replaces the epochs: the first steps are timed, the epochs
that fit are chosen (the recipe's warm-up, decay and cool-down laid out over them), the
estimate is printed before training starts, and training stops at the end of the first epoch
that would end past the budget.

`train` decides everything first (a `TrainingPlan`), then runs it: the machinery it calls is
`helpers.pipeline.feed` (the data for `model.fit`), `helpers.runtime.budget` (epochs in a
budget), `helpers.runtime.loop` (the resumable `fit`) and `helpers.runtime.run_folder`.
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

from helpers.models import build_compact_transformer, count_parameters, create_model, list_models
from helpers.notebook import (
    MINUTES_VARIABLE,
    SMOKE_TEST_IMAGES,
    SMOKE_TRAIN_IMAGES,
    SMOKE_VARIABLE,
    check_minutes,
    minutes_from_text,
    smoke_mode,
)
from helpers.pipeline.feed import training_data
from helpers.recipes import (
    AUTO,
    PAPER_RECIPE_FROM_EPOCHS,
    RECIPE_CHOICE_EVIDENCE,
    RECIPES,
    SHORT_BUDGET_RECIPE,
    Recipe,
    batch_scale,
    compile_model,
    get_recipe,
    recipe_for_epochs,
)
from helpers.runtime import run_folder
from helpers.runtime.budget import LONG_RUN_EPOCHS, announce_long_run, epochs_in_budget
from helpers.runtime.checks import check_images_and_labels, check_num_classes, is_whole_number
from helpers.runtime.device import (
    PRECISION_VARIABLE,
    PRECISIONS,
    SingleDeviceStrategy,
    accelerator,
    choose_precision,
    num_replicas,
    set_seed,
)
from helpers.runtime.loop import StopAtDeadline, resumable_fit
from helpers.runtime.run_folder import RunFolderError, RunFolderLock, read_history


# Optimizer steps between two evaluations, at most (CIFAR-10 has 390 batches of 128).
MAX_STEPS_PER_EPOCH = 1_000_000


@dataclasses.dataclass
class TrainingRun:
    model: keras.Model
    history: dict
    results: dict


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """What `train()` decided before training: every setting that makes a run what it is.
    A run folder's config.json records it (`config`), and a later call resumes that run only
    if it plans the same."""

    model_name: str
    recipe: Recipe  # its epochs are final: those a time budget chose, once measured
    num_classes: int
    image_size: int
    seed: int
    precision: str  # a Keras dtype policy: "float32" or "mixed_bfloat16"
    steps_per_epoch: int = None  # optimizer steps between two evaluations; None: one pass over the data
    minutes: float = None  # a wall-clock training budget, or None
    model_overrides: dict = dataclasses.field(default_factory=dict)  # arguments for the model builder
    recipe_choice: str = None  # why recipe="auto" chose this recipe (printed; not part of the run's identity)
    jit_compile: object = "auto"  # model.compile's: XLA or not (speed only; not part of the run's identity)

    @property
    def budget_chooses_recipe(self):
        """recipe="auto" with a budget, before the epochs that fit are measured and choose."""
        return self.recipe_choice == AUTO

    def with_epochs(self, epochs):
        return dataclasses.replace(self, recipe=dataclasses.replace(self.recipe, epochs=epochs))

    def with_recipe(self, name, epochs, why):
        """This plan with recipe `name` for `epochs` epochs (at this plan's batch size), chosen for `why`."""
        recipe = get_recipe(name, epochs=epochs, batch_size=self.recipe.batch_size)
        return dataclasses.replace(self, recipe=recipe, recipe_choice=why)

    def config(self, data, test=None):
        """The config.json of this plan's run folder, for `data` and `test` (their sizes and digest)."""
        return _plain({
            "model": self.model_name, "model_overrides": self.model_overrides, "num_classes": self.num_classes,
            "image_size": self.image_size, "seed": self.seed, "steps_per_epoch": self.steps_per_epoch,
            "precision": self.precision, "minutes": self.minutes, **dataclasses.asdict(self.recipe),
            "data": _data_fingerprint(data, test),
        })


def train(
    model_name, data, *, recipe=AUTO, epochs=None, minutes=None, batch_size=None, out=None, strategy=None, seed=0,
    verbose=2, steps_per_epoch=None, precision="auto", test=None, jit_compile="auto", **model_overrides,
):
    """Build `model_name`, train it on `data` = ((x_train, y_train), (x_test, y_test)) and
    evaluate it on the test split. Returns a TrainingRun(model, history, results).

    `test`: (x_test, y_test), read once, after training. `data`'s second split is then a
    validation split (`helpers.data.hold_out_validation`), which scores every epoch (the history's
    val_* columns) and any choice made on the way; results record `validation_accuracy` and
    `test_accuracy` apart. Without it, the second split is the test split and scores every epoch,
    as in the paper's runs.

    `minutes`: a wall-clock budget for training (its per-epoch evaluations and compilation
    included) instead of `epochs`: the epochs that fit are measured and chosen before training
    starts (at most the recipe's own), and training stops at the end of an epoch if the budget
    runs out all the same.
    Without either, the recipe's epochs.

    `recipe`: a name of `helpers.recipes.RECIPES`, a Recipe, or "auto" (the default): the recipe
    that suits the epochs trained (`helpers.recipes.recipe_for_epochs`: the short-budget recipe
    below PAPER_RECIPE_FROM_EPOCHS, the paper's from there on). With a budget, the paper's recipe
    when that many epochs of it fit, else the short-budget one. Which and why is printed.

    With `out`, a run folder (see docs/run_folders.md): its config.json records what
    this call asked for, and the folder then belongs to that run. Calling `train` again with
    the same arguments after an interruption resumes from the last completed epoch (a budgeted
    run keeps the epochs it chose), and the returned history holds every epoch, also those of
    earlier sessions; after the run has finished, it loads the result instead of training
    again. A call with other arguments is refused, naming what differs; so is a second live
    run into the same folder.

    `batch_size` is the global batch (all replicas together), a multiple of the replicas; the
    learning rates follow it by the rule of `helpers.recipes`. Training drops the last partial
    batch of an epoch; the test split is padded to whole replicas with rows of weight 0, which
    leave its loss and accuracy as they are (`helpers.runtime.device.pad_to_replicas`).

    `steps_per_epoch` fixes the optimizer steps between two evaluations, cycling through
    the training images as often as needed: runs on training sets of different sizes then
    get the same number of steps.

    `jit_compile`: `model.compile`'s XLA switch (True, False, or "auto": none on a TensorFlow CPU).

    `precision`: "auto" (see `helpers.runtime.device.choose_precision`: CCT_PRECISION when set, else
    bfloat16 where the device computes it natively), "float32" or "mixed_bfloat16"."""
    replicas = strategy.num_replicas_in_sync if strategy is not None else num_replicas()
    plan, data = plan_training(
        model_name, data, recipe=recipe, epochs=epochs, minutes=minutes, batch_size=batch_size, seed=seed,
        steps_per_epoch=steps_per_epoch, precision=precision, replicas=replicas, jit_compile=jit_compile, **model_overrides,
    )
    test = None if test is None else _checked_test(test, plan, data)
    if out is None:
        return _run(plan, data, strategy, verbose, test=test)
    out = Path(out).expanduser()
    with RunFolderLock(out):
        return _run_in_folder(plan, data, strategy, verbose, out, test)


def _checked_test(test, plan, data):
    try:
        images, labels = test
    except (TypeError, ValueError):
        raise ValueError("test must be (images, labels), as load_cifar10() returns each split.") from None
    images, labels = check_images_and_labels(images, labels, plan.num_classes, what="x_test")
    if images.shape[1:] != data[0][0].shape[1:]:
        raise ValueError(f"test images have shape {images.shape[1:]}, the training images {data[0][0].shape[1:]}.")
    return images, labels


def _run_in_folder(plan, data, strategy, verbose, out, test):
    """Train `plan` into the run folder `out`: resume its run, or load it when it has finished;
    a RunFolderError, before any training, when the folder belongs to another run. Every way in
    (epochs, a time budget, a notebook, a resume) goes through `run_folder.claim`."""
    saved = run_folder.read_config(out)
    if saved is None and plan.minutes is not None:
        # A new budgeted run: its epochs are measured first, then claimed (in `_settle_epochs`).
        run_folder.refuse_run_files_without_config(out)
        return _run(plan, data, strategy, verbose, out, test=test)
    budget_planned = saved is not None and plan.minutes is not None and saved.get("minutes") == plan.minutes
    if budget_planned:  # a budgeted run keeps the epochs (and under "auto" the recipe) it chose when it started
        plan = _saved_budget_plan(saved, plan, out)
    elif saved is not None and plan.recipe_choice and saved.get("name") != plan.recipe.name:
        raise RunFolderError(
            f"{out} holds a run of the {saved.get('name')!r} recipe, and recipe='auto' chose {plan.recipe.name!r} "
            f"({plan.recipe_choice}). Pass recipe={saved.get('name')!r} to resume or load that run (before version "
            "0.3 the default recipe was 'short'), or another out= folder for this one."
        )
    run_folder.claim(out, plan.config(data, test))
    if run_folder.is_finished(out):
        return _finished_run(out)
    return _run(plan, data, strategy, verbose, out, budget_planned=budget_planned, test=test)


def _saved_budget_plan(saved, plan, out):
    """`plan` with the epochs a budgeted run chose when it started (under recipe "auto", also its
    recipe), as its config.json records them."""
    epochs, name = saved.get("epochs"), saved.get("name")
    if plan.budget_chooses_recipe:
        if name not in (SHORT_BUDGET_RECIPE, "paper"):
            raise RunFolderError(
                f"{out / 'config.json'} records recipe {name!r}, which recipe='auto' never chooses: it belongs to "
                "another run. Pass another out= folder, or that run's recipe."
            )
        plan = plan.with_recipe(name, RECIPES["paper"].epochs, f"the {name} recipe this budgeted run chose when it started")
    if not is_whole_number(epochs, 1) or epochs > plan.recipe.epochs:
        raise RunFolderError(
            f"{out / 'config.json'} is damaged: a run of the {plan.recipe.name} recipe in a time budget trains 1 to "
            f"{plan.recipe.epochs} epochs, and it records epochs={epochs!r}. Pass another out= folder."
        )
    return plan.with_epochs(int(epochs))


def plan_training(
    model_name, data, *, recipe=AUTO, epochs=None, minutes=None, batch_size=None, seed=0, steps_per_epoch=None,
    precision="auto", replicas=1, jit_compile="auto", **model_overrides,
):
    """(the TrainingPlan, the data checked): `train()`'s arguments checked and settled, each
    refusal naming the argument and what to pass. `replicas`: the devices a batch is split over."""
    if epochs is not None and minutes is not None:
        raise ValueError("Give epochs or minutes (a time budget), not both.")
    minutes = None if minutes is None else check_minutes(minutes)
    overrides = {key: value for key, value in (("epochs", epochs), ("batch_size", batch_size)) if value is not None}
    recipe, recipe_choice = _recipe_to_plan(recipe, epochs, minutes, overrides)
    _check_model_overrides(model_overrides, recipe)
    if model_name not in list_models():
        raise ValueError(f"Unknown model {model_name!r}. Valid names: {', '.join(list_models())}.")
    (x_train, y_train), (x_test, y_test) = _split(data)
    num_classes = check_num_classes(model_overrides.pop("num_classes", 10))
    x_train, y_train = check_images_and_labels(x_train, y_train, num_classes, what="x_train")
    x_test, y_test = check_images_and_labels(x_test, y_test, num_classes, what="x_test")
    image_size = _image_size(x_train, x_test, model_overrides.pop("image_size", None))
    if steps_per_epoch is not None:
        if not (is_whole_number(steps_per_epoch, 1) and steps_per_epoch <= MAX_STEPS_PER_EPOCH):
            raise ValueError(
                f"steps_per_epoch must be a whole number from 1 to {MAX_STEPS_PER_EPOCH:,} (or None: one pass over the "
                f"data), got {steps_per_epoch!r}."
            )
        steps_per_epoch = int(steps_per_epoch)
    if not (is_whole_number(seed, 0) and seed < 2**32):
        raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1 (what NumPy's generators take), got {seed!r}.")
    precision = choose_precision(precision)
    if jit_compile not in (True, False, "auto"):
        raise ValueError(f"jit_compile must be True, False or 'auto' (model.compile's), got {jit_compile!r}.")
    if len(x_train) < recipe.batch_size:
        raise ValueError(
            f"{len(x_train)} training images make no full batch of {recipe.batch_size}: pass a smaller batch_size."
        )
    if recipe.batch_size % replicas:
        raise ValueError(
            f"batch_size {recipe.batch_size} does not split over the {replicas} replicas: pass a multiple of {replicas} "
            f"(the global batch, e.g. {-(-recipe.batch_size // replicas) * replicas})."
        )
    plan = TrainingPlan(
        model_name, recipe, num_classes, image_size, int(seed), precision, steps_per_epoch, minutes,
        model_overrides, recipe_choice, jit_compile,
    )
    return plan, ((x_train, y_train), (x_test, y_test))


def _is_auto(recipe):
    return isinstance(recipe, str) and recipe == AUTO


def _recipe_to_plan(recipe, epochs, minutes, overrides):
    """(the Recipe, why "auto" chose it: None for a recipe asked for by name, AUTO while a
    budget has yet to choose). A budget under "auto" starts from the short-budget recipe
    over at most the paper's epochs; `_settle_epochs` chooses once it has measured them."""
    if not _is_auto(recipe):
        return get_recipe(recipe, **overrides), None
    if minutes is not None:
        return get_recipe(SHORT_BUDGET_RECIPE, **overrides, epochs=RECIPES["paper"].epochs), AUTO
    name, why = recipe_for_epochs(get_recipe(SHORT_BUDGET_RECIPE, **overrides).epochs)  # checks the epochs first
    return get_recipe(name, **overrides), why


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


def _data_fingerprint(data, test=None):
    """Sizes and a digest of the arrays: a resume on other data would be another run."""
    (x_train, y_train), (x_second, y_second) = data
    arrays = (x_train, y_train, x_second, y_second) + (() if test is None else test)
    digest = hashlib.blake2b(digest_size=8)
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    if test is None:
        return {"train_images": len(x_train), "test_images": len(x_second), "digest": digest.hexdigest()}
    return {
        "train_images": len(x_train), "validation_images": len(x_second), "test_images": len(test[0]),
        "digest": digest.hexdigest(),
    }


def _plain(value):
    """`value` as JSON reads it back (tuples as lists, NumPy numbers as Python ones), so a
    config compares equal to its saved copy."""
    return json.loads(json.dumps(value, default=lambda item: item.item() if hasattr(item, "item") else str(item)))


def _finished_run(out):
    model, rows, results = run_folder.load_finished(out)
    print(f"{out} already holds a finished run of {len(rows)} epochs: loading it, not training again.")
    return TrainingRun(model, _columns(rows), results)


def _run(plan, data, strategy, verbose, out=None, budget_planned=False, test=None):
    """Train `plan` on `data` (into the run folder `out`, resuming it) and evaluate it (on `test`
    too, when given)."""
    strategy = strategy or SingleDeviceStrategy()
    session_start = time.perf_counter()
    set_seed(plan.seed)
    with strategy.scope():
        model = create_model(
            plan.model_name, num_classes=plan.num_classes, image_size=plan.image_size, dtype=plan.precision,
            **plan.model_overrides,
        )
    plan = _settle_epochs(plan, model, data, strategy, out, budget_planned, session_start, test)
    if plan.recipe_choice and verbose:
        print(f"recipe: {plan.recipe.name}, {plan.recipe.epochs} epoch(s): {plan.recipe_choice}\n({RECIPE_CHOICE_EVIDENCE})")
    feed = _training_data(plan, data, model)
    with strategy.scope():
        compile_model(model, plan.recipe, feed.steps_per_epoch, jit_compile=plan.jit_compile)
    if batch_scale(plan.recipe.batch_size) != 1 and verbose:
        print(f"batch {plan.recipe.batch_size}: learning rates x{batch_scale(plan.recipe.batch_size):.3g} (helpers.recipes)")
    callbacks = list(feed.callbacks)
    if plan.minutes is not None:
        callbacks.append(StopAtDeadline(session_start + plan.minutes * 60))
    start = time.perf_counter()
    history = resumable_fit(
        model, feed.train, feed.validation, plan.recipe.epochs, run_dir=out, verbose=verbose,
        keep_best=out is not None, callbacks=callbacks, **feed.fit_arguments(),
    )
    training_s = time.perf_counter() - start
    full_history = _columns(run_folder.read_history(out)) if out is not None else history.history
    loss, accuracy = feed.evaluate(model)
    results = _results(plan, data, model, feed, full_history, len(history.history.get("loss", [])), training_s, session_start)
    if test is None:
        results.update(test_accuracy=float(accuracy), test_loss=float(loss))
    else:
        test_loss, test_accuracy = _training_data(plan, (data[0], test), model).evaluate(model)  # its evaluation path
        results.update(
            validation_images=len(data[1][0]), validation_accuracy=float(accuracy), validation_loss=float(loss),
            test_images=len(test[0]), test_accuracy=float(test_accuracy), test_loss=float(test_loss),
        )
    if out is not None:
        run_folder.finish(out, model, results)
    return TrainingRun(model, full_history, results)


def _training_data(plan, data, model):
    return training_data(
        data, plan.recipe, num_classes=plan.num_classes, seed=plan.seed, steps_per_epoch=plan.steps_per_epoch,
        replicas=num_replicas(model),
    )


def _settle_epochs(plan, model, data, strategy, out, budget_planned, session_start, test=None):
    """The plan with the epochs that fit its time budget, measured on `model` (and claimed in
    `out`); a long run without a budget says how long it will take."""
    test_images = len(data[1][0])
    if plan.minutes is not None and not budget_planned:
        with strategy.scope():
            epochs = epochs_in_budget(
                model, plan.recipe, plan.minutes, _training_data(plan, data, model), test_images, session_start, plan.jit_compile
            )
            plan = _choose_recipe_in_budget(plan, epochs, model, data, test_images, session_start) if plan.budget_chooses_recipe else plan.with_epochs(epochs)
        if out is not None:
            run_folder.claim(out, plan.config(data, test))
    elif plan.recipe.epochs >= LONG_RUN_EPOCHS:
        epochs_done = len(read_history(out)) if out is not None else 0
        if epochs_done < plan.recipe.epochs:
            with strategy.scope():
                announce_long_run(model, plan.recipe, _training_data(plan, data, model), test_images, epochs_done, plan.jit_compile)
    return plan


def _choose_recipe_in_budget(plan, short_epochs, model, data, test_images, session_start):
    """Under recipe="auto" with a budget: the paper's recipe when PAPER_RECIPE_FROM_EPOCHS epochs
    of it fit (measured again: its augmentation may cost more), else the short-budget recipe
    for the `short_epochs` that fit."""
    threshold, budget = PAPER_RECIPE_FROM_EPOCHS, f"the {plan.minutes:g}-minute budget"
    if short_epochs < threshold:
        why = f"{budget} fits {short_epochs}, fewer than the {threshold} epochs from which the paper's recipe is trained"
        return plan.with_recipe(SHORT_BUDGET_RECIPE, short_epochs, why)
    paper = plan.with_recipe("paper", RECIPES["paper"].epochs, None)
    paper_epochs = epochs_in_budget(
        model, paper.recipe, plan.minutes, _training_data(paper, data, model), test_images, session_start, plan.jit_compile
    )
    if paper_epochs >= threshold:
        why = f"{budget} fits {paper_epochs} of it, at least the {threshold} epochs from which it is trained"
        return plan.with_recipe("paper", paper_epochs, why)
    why = (
        f"{budget} fits {short_epochs} of it but only {paper_epochs} of the paper's recipe, fewer than the {threshold} "
        "epochs from which that is trained"
    )
    return plan.with_recipe(SHORT_BUDGET_RECIPE, short_epochs, why)


def _results(plan, data, model, feed, full_history, epochs_run, training_s, session_start):
    """What results.json records of a run (the test scores are added by the caller)."""
    (x_train, _), (x_test, _) = data
    images_per_epoch = feed.steps_per_epoch * plan.recipe.batch_size
    return {
        "model": plan.model_name,
        "recipe": plan.recipe.name,
        "epochs": plan.recipe.epochs,
        "epochs_completed": len(full_history.get("loss", [])),
        "epochs_this_session": epochs_run,
        "minutes": plan.minutes,
        "train_images": len(x_train),
        "test_images": len(x_test),
        "test_accuracy": None,
        "test_loss": None,
        "parameters": count_parameters(model),
        "wall_time_s_this_session": round(time.perf_counter() - session_start, 1),
        "training_time_s_this_session": round(training_s, 1),
        "steps_per_epoch": feed.steps_per_epoch,
        "batch_size": plan.recipe.batch_size,
        "train_images_per_s": round(epochs_run * images_per_epoch / training_s, 1) if epochs_run else None,
        "device": accelerator(),
        "replicas": num_replicas(model),
        "augmentation": "device" if feed.on_device else "host (tf.data)",
        "precision": plan.precision,
        "jit_compile": plan.jit_compile,
        "backend": keras.backend.backend(),
        "versions": {"keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version()},
    }


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


def _budget_minutes(text):
    try:
        return check_minutes(minutes_from_text(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removesuffix(".")) from None


def main(argv=None):
    positive = _whole_number_at_least_one
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a name from helpers.models.list_models()")
    parser.add_argument(
        "--recipe", default=AUTO,
        help=f"a recipe of helpers.recipes (paper, short, fast), or auto: {SHORT_BUDGET_RECIPE} below "
        f"{PAPER_RECIPE_FROM_EPOCHS} epochs (or the epochs a --minutes budget fits), paper from there on",
    )
    parser.add_argument("--epochs", type=positive, help="epochs in all (default: the recipe's)")
    parser.add_argument(
        "--minutes", type=_budget_minutes,
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
