"""What a notebook trains, and how notebooks 02-05 share their runs.

    settings = notebook_settings()   # printed: profile, models, budget, precision, data
    train_split, validation_split, test_split = settings.load_splits()  # 45,000 / 5,000 / 10,000
    run = train(settings.models["cct"], (train_split, validation_split), test=test_split, **settings.training())
    save_run(run, "cct", settings)   # for the later notebooks; load_run("cct") reads it back

A profile is picked from smoke mode and the device: "smoke" (CCT_SMOKE=1, what the tests run),
"cpu" (the 2-layer models), "accelerator" (the paper's 7-layer models) or "paper" (the whole
300-epoch paper run, asked for explicitly). The budgets train recipe "auto": the epochs that fit
choose it (`helpers.recipes.recipe_for_epochs`), and training prints which and why. Each trains for a
wall-clock budget in minutes per model; `CCT_MINUTES` (or `notebook_settings(minutes=...)`)
replaces it, with the meaning of `train(minutes=...)` and `python -m helpers.train --minutes`.
"""

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers import ASSETS
from helpers.data import describe_cifar10_folder

SMOKE_VARIABLE = "CCT_SMOKE"
MINUTES_VARIABLE = "CCT_MINUTES"
PROFILE_VARIABLE = "CCT_PROFILE"
RUNS_VARIABLE = "CCT_RUNS_DIR"
PROFILES = ("smoke", "cpu", "accelerator", "paper")

# The 7-layer models are what the paper trains; the 2-layer trio shares one backbone and
# 64 tokens, so the comparison between notebooks stays fair on a CPU.
PAPER_MODELS = {"vit_lite": "vit_lite_7_4", "cvt": "cvt_7_4", "cct": "cct_7_3x1"}
SMALL_MODELS = {"vit_lite": "vit_lite_2_4", "cvt": "cvt_2_4", "cct": "cct_2_3x2"}
# Training minutes per model: a notebook fits a 90-minute lab with time to read.
BUDGET_MINUTES = {"cpu": 15, "accelerator": 20}
# The longest time budget taken: a week (a longer run is one of epochs, CCT_PROFILE=paper).
MAX_MINUTES = 7 * 24 * 60
SMOKE_TRAIN_IMAGES, SMOKE_TEST_IMAGES, SMOKE_VALIDATION_IMAGES = 256, 128, 64
NOTEBOOK_OF = {"vit_lite": "02_vit_lite.ipynb", "cvt": "03_seqpool_cvt.ipynb", "cct": "04_conv_tokenization_cct.ipynb"}
SHIPPED_RUNS = ASSETS / "runs"


def smoke_mode():
    """True when CCT_SMOKE is set to 1 (or true, yes, on): notebooks then shrink to a quick check;
    False when it is unset, empty or 0 (false, no, off). Any other value is refused: a typo must
    not start an hour of real training where a quick check was meant, or the other way round."""
    value = os.environ.get(SMOKE_VARIABLE, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{SMOKE_VARIABLE} must be 1 or 0 (or true/false, yes/no, on/off), got {os.environ[SMOKE_VARIABLE]!r}.")


@dataclass
class RunSettings:
    """One notebook run's settings, picked from smoke mode, the device present and the budget."""

    profile: str
    device: str
    models: dict
    recipe: str
    batch_size: int
    minutes: float = None  # wall-clock training budget per model; None: train `epochs`
    epochs: int = None  # set when there is no budget (smoke mode, the full paper run)
    precision: str = "float32"
    strategy: object = field(repr=False, default=None)

    @property
    def smoke(self):
        return self.profile == "smoke"

    def training(self, family=None):
        """The keyword arguments of `train()` for this run; with `family` ("vit_lite", "cvt",
        "cct") also its resumable run folder (none in smoke mode)."""
        arguments = dict(
            recipe=self.recipe, epochs=self.epochs, minutes=self.minutes, batch_size=self.batch_size,
            strategy=self.strategy, verbose=2,  # one line per epoch
        )
        if family is not None and not self.smoke:
            arguments["out"] = runs_dir() / f"{family}-{self.profile}"
        return arguments

    def describe(self):
        budget = f"{self.minutes:g} minutes per model" if self.minutes else f"{self.epochs} epoch(s)"
        replicas = self.strategy.num_replicas_in_sync if self.strategy else 1
        lines = [
            f"smoke mode: {'on' if self.smoke else 'off'}",
            f"device: {self.device}, {replicas} replica(s)",
            f"profile: {self.profile}",
            f"models: {', '.join(self.models.values())}",
            f"recipe: {self._recipe_line()}, budget: {budget}, batch size: {self.batch_size}",
            f"precision: {self.precision}"
            + (" (bfloat16 compute, float32 weights)" if self.precision == "mixed_bfloat16" else ""),
            "data: "
            + (
                f"shipped CIFAR-10 sample, cut to {SMOKE_TRAIN_IMAGES} train / {SMOKE_TEST_IMAGES} test images"
                if self.smoke
                else f"CIFAR-10 from CIFAR10_DIR={os.environ['CIFAR10_DIR']} ({describe_cifar10_folder(os.environ['CIFAR10_DIR'])})"
                if os.environ.get("CIFAR10_DIR")
                else "CIFAR-10 (Keras download)"
            ),
            f"runs folder: {runs_dir()}",
        ]
        if self.profile == "cpu":
            lines.append(
                "note: no accelerator found, so the 2-layer models replace the paper's 7-layer ones, "
                f"trained for a {self.minutes:g}-minute budget instead of 300 (+10 cool-down) epochs"
            )
        if self.profile == "accelerator":
            lines.append(
                f"note: {self.minutes:g} minutes per model, not the paper's 300 (+10) epochs; "
                f"{PROFILE_VARIABLE}=paper trains the whole run"
            )
        if self.minutes:
            lines.append(f"note: {MINUTES_VARIABLE}=<minutes>, set before notebook_settings() runs, changes the budget")
        if self.smoke:
            lines.append("note: smoke mode checks that the notebook runs; its numbers are not results")
        return "\n".join(lines)

    def _recipe_line(self):
        from helpers.recipes import AUTO, PAPER_RECIPE_FROM_EPOCHS, SHORT_BUDGET_RECIPE

        if self.recipe != AUTO:
            return self.recipe
        return (
            f"auto ({SHORT_BUDGET_RECIPE} below {PAPER_RECIPE_FROM_EPOCHS} epochs, paper from there on: "
            "training prints which, once it knows the epochs)"
        )

    @property
    def validation_images(self):
        """The training images `load_splits` holds out (of the smoke sample's 256, 64)."""
        from helpers.data import VALIDATION_IMAGES

        return SMOKE_VALIDATION_IMAGES if self.smoke else VALIDATION_IMAGES

    def load_splits(self):
        """(x_train, y_train), (x_val, y_val), (x_test, y_test): `load_data()` with the last
        `validation_images` training images held out, to score the curves and choices on, so that
        the test split is read once, at the end (`train(..., test=)`)."""
        from helpers.data import hold_out_validation

        train_split, test_split = self.load_data()
        return (*hold_out_validation(train_split, self.validation_images), test_split)

    def load_data(self):
        """(x_train, y_train), (x_test, y_test) for this run."""
        from helpers.data import load_cifar10, load_cifar10_sample

        if self.smoke:
            (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
            return (x_train[:SMOKE_TRAIN_IMAGES], y_train[:SMOKE_TRAIN_IMAGES]), (
                x_test[:SMOKE_TEST_IMAGES],
                y_test[:SMOKE_TEST_IMAGES],
            )
        return load_cifar10()


def notebook_settings(profile=None, minutes=None, verbose=True):
    """Choose and print a notebook's run settings.

    profile: None picks "smoke" in smoke mode, else "accelerator" on a GPU or TPU and "cpu"
      elsewhere; CCT_PROFILE=paper (or profile="paper") asks for the whole paper run.
    minutes: the training budget per model (default BUDGET_MINUTES of the profile, or
      CCT_MINUTES when set). Smoke mode trains 1 epoch, the paper profile 310.
    The batch size is the recipe's 128 per replica (smoke mode: 64 in all); the learning rates
    follow it (`helpers.recipes.batch_scale`). The precision is `choose_precision()`'s.
    """
    from helpers.runtime.device import accelerator, choose_precision, get_strategy
    from helpers.recipes import AUTO, RECIPES

    strategy = get_strategy(verbose=False)
    device = accelerator()
    profile = _choose_profile(profile, device)
    models = SMALL_MODELS if profile in ("smoke", "cpu") else PAPER_MODELS
    recipe = "paper" if profile == "paper" else AUTO  # a budget chooses: helpers.recipes.recipe_for_epochs
    epochs = {"smoke": 1, "paper": RECIPES["paper"].epochs}.get(profile)
    if epochs is None:
        minutes = _budget_minutes(minutes, profile)
    elif minutes is not None:
        raise ValueError(f"The {profile} profile trains {epochs} epoch(s), not for a budget: leave minutes out.")
    replicas = strategy.num_replicas_in_sync
    # Smoke mode: 64 images a step, rounded up to whole replicas, so that its 256 images make batches.
    batch_size = -(-64 // replicas) * replicas if profile == "smoke" else 128 * replicas
    settings = RunSettings(
        profile, device, dict(models), recipe, batch_size, minutes=minutes if epochs is None else None, epochs=epochs,
        precision=choose_precision(device=device), strategy=strategy,
    )
    if verbose:
        print(settings.describe())
    return settings


def _choose_profile(profile, device):
    if smoke_mode():
        return "smoke"
    profile = profile or os.environ.get(PROFILE_VARIABLE, "").strip() or None
    if profile is None:
        return "accelerator" if device in ("GPU", "TPU") else "cpu"
    if profile not in PROFILES[1:]:
        raise ValueError(f"profile must be one of {', '.join(PROFILES[1:])} (smoke mode: {SMOKE_VARIABLE}=1), got {profile!r}.")
    return profile


def _budget_minutes(minutes, profile):
    text = os.environ.get(MINUTES_VARIABLE, "").strip()
    if minutes is None and text:
        return check_minutes(minutes_from_text(text), f" (from the environment variable {MINUTES_VARIABLE})")
    return BUDGET_MINUTES[profile] if minutes is None else check_minutes(minutes)


def minutes_from_text(text):
    """A budget written as text (CCT_MINUTES, --minutes) as a number, or the text when it is none."""
    try:
        return float(text)
    except ValueError:
        return text


def check_minutes(minutes, source=""):
    """`minutes` as a float when it is a time budget: a number in (0, MAX_MINUTES]; a ValueError
    naming the range otherwise. `train()`, `python -m helpers.train --minutes` and CCT_MINUTES
    all check here."""
    number = isinstance(minutes, numbers.Real) and not isinstance(minutes, bool) and math.isfinite(minutes)
    if not number or not 0 < minutes <= MAX_MINUTES:
        raise ValueError(
            f"minutes must be a number in (0, {MAX_MINUTES:,}] (a wall-clock training budget; {MAX_MINUTES:,} minutes "
            f"is a week), got {minutes!r}{source}."
        )
    return float(minutes)


def runs_dir():
    """Where the notebooks keep their runs: CCT_RUNS_DIR when set (in Colab, a Google Drive
    folder keeps runs past a recycled runtime), else `runs/notebooks` at the repository root,
    seen from notebooks/ or the root. In smoke mode `runs/smoke` inside it, so that the tests'
    smoke runs never mix with the runs a reader trained."""
    configured = os.environ.get(RUNS_VARIABLE, "").strip()
    if configured:
        root = Path(configured).expanduser()
        return root / "smoke" if smoke_mode() else root
    root = Path("..") if Path("../helpers").is_dir() and Path.cwd().name == "notebooks" else Path(".")
    return root / "runs" / ("smoke" if smoke_mode() else "notebooks")


def save_run(run, family, settings, folder=None):
    """Write a TrainingRun to <folder>/<family>.json, with the settings' profile in its results.

    A smoke run never replaces a real run's file: the test suite executes every notebook in
    smoke mode, and must not wipe out what a reader trained.
    """
    from helpers.runtime.atomic_files import write_json_atomically

    path = Path(folder or runs_dir()) / f"{family}.json"
    saved = json.loads(path.read_text()) if path.is_file() else None
    if settings.smoke and saved and saved.get("results", {}).get("profile", "smoke") != "smoke":
        print(f"kept {path}: it holds a {saved['results']['profile']} run, which a smoke run does not replace")
        return path
    record = {
        "model": run.results["model"],
        "history": {metric: [float(value) for value in values] for metric, values in run.history.items()},
        "results": {**run.results, "profile": settings.profile},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, record)  # a kernel killed mid-write must not leave half a record
    print(f"saved {path}")
    return path


def load_run(family, folder=None, shipped=True):
    """A run saved by an earlier notebook. When there is none (that notebook has not run on this
    runtime), the run shipped with the package, saying so; None if `shipped` is False."""
    path = Path(folder or runs_dir()) / f"{family}.json"
    if path.is_file():
        return json.loads(path.read_text())
    from helpers.runtime.assets import listed, verified

    shipped_path = SHIPPED_RUNS / f"{family}.json"
    if not shipped or not (shipped_path.is_file() or listed(shipped_path)):
        print(f"{path} not found: run {NOTEBOOK_OF[family]} first to compare with it")
        return None
    record = json.loads(verified(shipped_path).read_text())  # a shipped run missing or damaged is refused, naming it
    print(
        f"{path} not found ({NOTEBOOK_OF[family]} has not run here): using the run shipped with the package, "
        f"{describe_run(record['results']).strip()}"
    )
    return record


def run_budget(results):
    """What a run trained: recipe, epochs completed and training images. Equal budgets compare fairly."""
    return results.get("recipe"), results.get("epochs_completed", results.get("epochs")), results.get("train_images")


def describe_run(results):
    recipe, epochs, images = run_budget(results)
    label = " (smoke: not a result)" if results.get("profile") == "smoke" else ""
    shipped = f", shipped: {results['shipped']}" if results.get("shipped") else ""
    budget = f", {results['minutes']:g}-minute budget" if results.get("minutes") else ""
    planned = results.get("epochs")
    trained = f"{epochs} epoch(s)" if epochs == planned else f"{epochs} of {planned} planned epoch(s), stopped by the budget"
    return (
        f"{results['model']:>14}: test accuracy {results['test_accuracy']:6.2%}  "
        f"({recipe} recipe, {trained}{budget}, {images} training images{shipped}){label}"
    )


def budget_note(compared):
    """One line on whether the runs in `compared` (results dicts) had the same budget, and what
    differs when not: the notebooks print it under their comparison of runs.

    Equal recipe, epochs and training images (`run_budget`) compare like for like. Runs given
    the same minutes on the same kind of device choose their epochs by their own speed: that
    compares equal training time, not equal epochs. A shipped run was trained on another machine."""
    budgets = [run_budget(results) for results in compared]
    shipped = [results["model"] for results in compared if results.get("shipped")]
    shipped_note = f"; {', '.join(shipped)}: the run shipped with the package, from another machine" if shipped else ""
    if len(set(budgets)) == 1:
        recipe, epochs, images = budgets[0]
        return f"same budget: {recipe} recipe, {epochs} epoch(s), {images} training images{shipped_note}"
    minutes = {results.get("minutes") for results in compared}
    devices = {results.get("device") for results in compared}
    same_time = None not in minutes and len(minutes) == len(devices) == 1 and not shipped
    if same_time and len({(recipe, images) for recipe, _, images in budgets}) == 1:
        epochs = ", ".join(f"{results['model']} {epochs}" for results, (_, epochs, _) in zip(compared, budgets))
        return (
            f"same {minutes.pop():g}-minute budget, each on a {devices.pop()}, so different epochs ({epochs}): "
            "a comparison at equal training time, not at equal epochs"
        )
    fields = ("recipe", "epochs", "training images")
    differing = [name for index, name in enumerate(fields) if len({budget[index] for budget in budgets}) > 1]
    if len(minutes) > 1:
        differing.append("time budget")
    return f"note: the runs had different budgets ({', '.join(differing)}), so they are not directly comparable{shipped_note}"
