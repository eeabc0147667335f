"""Training recipes as data (the paper's; a short one; a fast one for a budget of about 25
epochs), the learning-rate schedule, the optimizer, and `compile_model`, which sets a model up
for a recipe. (The training loop that runs them is `helpers.train`.)

    recipe = get_recipe("paper")                    # the paper's CIFAR recipe
    recipe = get_recipe("short", epochs=20)         # anything can be overridden
    name, why = recipe_for_epochs(12)               # the recipe a run of 12 epochs trains: "fast"
    compile_model(model, recipe, steps_per_epoch=390)

Batch size and learning rate: a recipe's learning rates are those of its batch of 128 images
(REFERENCE_BATCH_SIZE). Trained at another (global) batch size B, e.g. 128 per replica on 8 TPU
cores, every rate of the schedule is multiplied by sqrt(B / 128): the square-root rule for
Adam-type optimizers (Malladi et al., 2022, "On the SDEs and Scaling Rules for Adaptive
Gradient Algorithms"), milder than the linear rule of SGD, which would take AdamW to 4.4e-3 at
batch 1024.
"""

import dataclasses
import math
import numbers

import keras

from helpers.runtime.checks import is_whole_number

REFERENCE_BATCH_SIZE = 128


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int  # all the epochs trained, cool-down included
    batch_size: int
    learning_rate: float
    weight_decay: float
    warmup_epochs: int
    min_learning_rate: float
    warmup_start_learning_rate: float
    label_smoothing: float
    augment: str
    cooldown_epochs: int = 0  # at the minimum learning rate, after the cosine decay
    mix_until: float = None  # MixUp/CutMix for this share of the epochs before cool-down (None: all)
    random_erasing: float = 0.0  # probability per image ("paper" augmentation only)
    description: str = ""

    def phase_steps(self, steps_per_epoch):
        """(warm-up, cool-down) optimizer steps, each at most a tenth of training, so that a
        recipe cut to a few epochs still spends most of them at full rate and in decay."""
        cap = self.epochs * steps_per_epoch // 10
        return min(self.warmup_epochs * steps_per_epoch, cap), min(self.cooldown_epochs * steps_per_epoch, cap)

    @property
    def mix_off_epoch(self):
        """The first epoch without MixUp/CutMix (scaled with the epochs), or None."""
        if self.augment != "paper" or self.mix_until is None:
            return None
        return round(self.mix_until * (self.epochs - min(self.cooldown_epochs, self.epochs / 10)))


_SHORT = Recipe(
    name="short",
    epochs=30,
    batch_size=128,
    learning_rate=5.5e-4,
    weight_decay=6e-2,
    warmup_epochs=3,
    min_learning_rate=1e-5,
    warmup_start_learning_rate=1e-5,
    label_smoothing=0.1,
    augment="basic",
    description="The paper's optimiser and schedule over fewer epochs (3 warm-up, no "
    "cool-down), with crop-and-flip only: strong augmentation pays off only over long training.",
)

RECIPES = {
    "paper": Recipe(
        name="paper",
        epochs=310,
        batch_size=128,
        learning_rate=5.5e-4,
        weight_decay=6e-2,
        warmup_epochs=10,
        min_learning_rate=1e-5,
        warmup_start_learning_rate=1e-5,
        label_smoothing=0.1,
        augment="paper",
        cooldown_epochs=10,
        mix_until=175 / 300,
        random_erasing=0.0,
        description="The official CIFAR-10 run behind CCT-7/3x1's 96.53% "
        "(configs/pretrained/cct_7-3x1_cifar10_300epochs.yml, trained with timm): AdamW "
        "(lr 5.5e-4, weight decay 0.06, batch 128), 10 warm-up epochs from 1e-5, cosine decay to "
        "1e-5 over 300 epochs, then timm's 10 cool-down epochs at 1e-5 (310 in all); label "
        "smoothing 0.1; random-resized crop (scale 0.8-1), flip, RandAugment m9; MixUp 0.8 / "
        "CutMix 1.0 until epoch 175 of 300; no random erasing (that run sets reprob 0, the data "
        "set's config 0.25). Deviations: the learning rate changes every step, not every epoch; "
        "on the device, timm's per-image RandAugment with the geometry applied first in one "
        "resampling (helpers.pipeline.on_device); on a TensorFlow CPU, Keras' RandAugment scaled "
        "to timm's strengths, called by tf.data on one image at a time, so its ops are drawn per image (helpers.pipeline.host); MixUp and CutMix mix "
        "every batch (timm: probability 1.0, the same).",
    ),
    "short": _SHORT,
    "fast": dataclasses.replace(
        _SHORT,
        name="fast",
        epochs=25,
        learning_rate=2e-3,
        description="The short recipe at a higher peak rate (2e-3), for a budget of about 25 epochs: the best of nine tries of 25 epochs on a held-out tenth of the "
        "training set (scripts/short_budget_sweep.py, results/short_budget/), chosen without the test split.",
    ),
}


# Which recipe a run trains when the recipe is "auto" (the default of `train()`, `--recipe` and
# the notebooks' budgets): the short-budget one below PAPER_RECIPE_FROM_EPOCHS epochs, the
# paper's from there on. Strong augmentation pays off only over long training.
SHORT_BUDGET_RECIPE = "fast"
PAPER_RECIPE_FROM_EPOCHS = 100
# What the threshold rests on, printed with every choice.
RECIPE_CHOICE_EVIDENCE = (
    "measured: at 25 epochs the paper's augmentation scored 6.1 points below crop-and-flip on held-out images "
    "(results/short_budget); assumed until a sweep of 50-200 epochs measures it: the paper's recipe wins "
    f"from {PAPER_RECIPE_FROM_EPOCHS} epochs"
)
AUTO = "auto"


def recipe_for_epochs(epochs):
    """(recipe name, why): the recipe a run of `epochs` epochs trains under recipe="auto"."""
    if not is_whole_number(epochs, 1):
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}.")
    if epochs >= PAPER_RECIPE_FROM_EPOCHS:
        return "paper", f"at least the {PAPER_RECIPE_FROM_EPOCHS} epochs from which the paper's recipe is trained"
    return SHORT_BUDGET_RECIPE, f"fewer than the {PAPER_RECIPE_FROM_EPOCHS} epochs from which the paper's recipe is trained"


def get_recipe(name, **overrides):
    """A recipe by name (or a Recipe), with any field replaced (e.g. epochs=10)."""
    if isinstance(name, Recipe):
        base = name
    elif name in RECIPES:
        base = RECIPES[name]
    else:
        raise ValueError(f"Unknown recipe {name!r}. Valid recipes: {', '.join(RECIPES)}.")
    unknown = set(overrides) - {field.name for field in dataclasses.fields(Recipe)}
    if unknown:
        raise ValueError(f"Recipe has no field(s) {sorted(unknown)}.")
    return check_recipe(dataclasses.replace(base, **overrides))


# What each field of a recipe may be: (whole number?, lowest, highest, is the lowest allowed?).
# The bounds keep out values that cannot be meant: the longest published run is 5,000 epochs,
# AdamW's rates stay far below 1 (the paper's peak is 5.5e-4).
RECIPE_LIMITS = {
    "epochs": (True, 1, 10_000, True),
    "batch_size": (True, 1, 65_536, True),
    "warmup_epochs": (True, 0, 10_000, True),
    "cooldown_epochs": (True, 0, 10_000, True),
    "learning_rate": (False, 0.0, 1.0, False),
    "min_learning_rate": (False, 0.0, 1.0, False),
    "warmup_start_learning_rate": (False, 0.0, 1.0, False),
    "weight_decay": (False, 0.0, 1.0, True),
    "label_smoothing": (False, 0.0, 0.99, True),
    "random_erasing": (False, 0.0, 1.0, True),
}


def check_recipe(recipe):
    """The recipe with whole-number fields as plain ints; a ValueError names any field out of
    its range (RECIPE_LIMITS), with the range."""
    problems, fixed = [], {}
    for field, (whole, low, high, low_allowed) in RECIPE_LIMITS.items():
        value = getattr(recipe, field)
        if whole:
            valid = is_whole_number(value) and low <= value <= high
            what = f"a whole number from {low:,} to {high:,}"
        else:
            number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            valid = number and (low <= value if low_allowed else low < value) and value <= high
            what = f"a number in {'[' if low_allowed else '('}{low:g}, {high:g}]"
        if valid:
            fixed[field] = int(value) if whole else float(value)  # numpy numbers too, kept JSON-friendly
        else:
            problems.append(f"{field} must be {what}, got {value!r}")
    if recipe.mix_until is not None and not (isinstance(recipe.mix_until, numbers.Real) and 0.0 < recipe.mix_until <= 1.0):
        problems.append(f"mix_until is a share of the epochs in (0, 1] (or None: mix throughout), got {recipe.mix_until!r}")
    if problems:
        raise ValueError(f"Recipe {recipe.name!r}: " + "; ".join(problems) + ".")
    return dataclasses.replace(recipe, **fixed)


def batch_scale(batch_size):
    """The factor on a recipe's learning rates at `batch_size` (see the module's docstring)."""
    return math.sqrt(batch_size / REFERENCE_BATCH_SIZE)


def learning_rate_schedule(recipe, steps_per_epoch):
    """Linear warm-up from `warmup_start_learning_rate`, cosine decay to `min_learning_rate`,
    then the cool-down epochs at that minimum (Keras' CosineDecay holds its last value). All
    three rates are scaled by `batch_scale(recipe.batch_size)`."""
    scale = batch_scale(recipe.batch_size)
    total_steps = max(1, recipe.epochs * steps_per_epoch)
    warmup_steps, cooldown_steps = recipe.phase_steps(steps_per_epoch)
    decay_steps = total_steps - warmup_steps - cooldown_steps
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.warmup_start_learning_rate * scale,
        warmup_target=recipe.learning_rate * scale,
        warmup_steps=warmup_steps,
        decay_steps=max(1, decay_steps),
        alpha=recipe.min_learning_rate / recipe.learning_rate,
    )


def learning_rates(recipe, steps_per_epoch):
    """The learning rate of every optimizer step of `recipe` (a NumPy array of epochs x
    steps_per_epoch), computed by the schedule object training uses."""
    schedule = learning_rate_schedule(recipe, steps_per_epoch)
    steps = keras.ops.arange(recipe.epochs * steps_per_epoch, dtype="float32")
    # The schedule picks warm-up or decay with ops.cond, one step at a time: map it over the steps.
    return keras.ops.convert_to_numpy(keras.ops.vectorized_map(schedule, steps))


def make_optimizer(recipe, steps_per_epoch):
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(recipe, steps_per_epoch), weight_decay=recipe.weight_decay
    )
    # As timm (which the official code trains with): no weight decay on biases and norms.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def compile_model(model, recipe, steps_per_epoch, jit_compile="auto", steps_per_execution=1):
    """AdamW + schedule, label-smoothed cross-entropy on logits, accuracy (one-hot labels).
    The accuracy heeds sample weights (a weighted metric: the same number where there are none),
    so that an evaluation padded to whole replicas with zero-weight rows stays exact
    (`helpers.runtime.device.pad_to_replicas`)."""
    if not is_whole_number(steps_per_epoch, 1):
        raise ValueError(f"steps_per_epoch must be a whole number >= 1, got {steps_per_epoch!r}.")
    recipe = check_recipe(recipe)
    model.compile(
        optimizer=make_optimizer(recipe, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.label_smoothing),
        weighted_metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def full_batches(num_examples, batch_size):
    """Full batches in one pass over the training set, the steps of an epoch: training drops the
    last partial batch, so that every step has one shape (one compiled step; a batch that divides
    over the replicas)."""
    return max(1, num_examples // batch_size)
