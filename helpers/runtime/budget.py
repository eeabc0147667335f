"""How many epochs fit in a time budget: the first training and evaluation steps are timed on
the model itself, and the epochs that fit chosen before training starts (`train(minutes=...)`).
A long run (the paper's 310 epochs) prints its estimated duration the same way."""

import dataclasses
import itertools
import math
import time

import numpy as np

from helpers.notebook import MINUTES_VARIABLE
from helpers.recipes import compile_model

# Timed training steps before a budgeted run chooses its epochs, after one step that compiles and
# PROBE_WARMUP_STEPS more, untimed.
PROBE_WARMUP_STEPS, PROBE_STEPS = 15, 30
PLANNING_MARGIN = 1.1
# Runs this long print their estimated duration before they start.
LONG_RUN_EPOCHS = 50


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


def measure_epoch(model, recipe, data, test_images, jit_compile="auto"):
    """(seconds per epoch with its evaluation, seconds to compile, training images per second)
    from timed training and evaluation steps of `model` on `data` (a
    `helpers.pipeline.feed.TrainingData`), whose weights are put back afterwards."""
    train_data, test_data, steps = data.train, data.validation, data.steps_per_epoch
    initial = [variable.numpy() for variable in model.weights]
    compile_model(model, dataclasses.replace(recipe, epochs=1), steps, jit_compile=jit_compile)
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


def epochs_in_budget(model, recipe, minutes, data, test_images, session_start, jit_compile="auto"):
    """The epochs of `recipe` that fit in `minutes` from `session_start`, measured on `model`
    (at most the recipe's own); prints the estimate."""
    epoch_s, compile_s, images_per_s = measure_epoch(model, recipe, data, test_images, jit_compile)
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
    return epochs


def announce_long_run(model, recipe, data, test_images, epochs_done, jit_compile="auto"):
    """Before a run of LONG_RUN_EPOCHS epochs or more (the paper's 310), print how long it will take."""
    epoch_s, compile_s, images_per_s = measure_epoch(model, recipe, data, test_images, jit_compile)
    left = recipe.epochs - epochs_done
    hours = (compile_s + left * epoch_s) / 3600
    print(
        f"{left} epoch(s) of the {recipe.name} recipe to train: {images_per_s:,.0f} training images/s measured, "
        f"{epoch_s:.0f} s per epoch with its evaluation -> estimated {hours:.1f} h (a time budget instead: "
        f"minutes=..., --minutes, {MINUTES_VARIABLE})"
    )
