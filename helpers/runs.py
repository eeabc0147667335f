"""How notebooks 02-05 share their training runs: one JSON file per model family in
`runs/notebooks/` at the repository root (`{"model", "history", "results"}`; smoke runs go to
`runs/smoke/`)."""

import json
from pathlib import Path

from helpers.run_folder import write_json_atomically

NOTEBOOK_OF = {"vit_lite": "02_vit_lite.ipynb", "cvt": "03_seqpool_cvt.ipynb", "cct": "04_conv_tokenization_cct.ipynb"}


def runs_dir():
    """Where the notebooks keep their runs: `runs/notebooks` at the repository root, seen from
    notebooks/ or the root (Colab: here); in smoke mode `runs/smoke` instead, so that the
    tests' smoke runs never mix with the runs a reader trained."""
    from helpers.runtime import smoke_mode

    root = Path("..") if Path("../helpers").is_dir() and Path.cwd().name == "notebooks" else Path(".")
    return root / "runs" / ("smoke" if smoke_mode() else "notebooks")


def save_run(run, family, settings, folder=None):
    """Write a TrainingRun to <folder>/<family>.json, with the settings' profile in its results.

    A smoke run never replaces a real run's file: the test suite executes every notebook in
    smoke mode, and must not wipe out what a reader trained.
    """
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


def load_run(family, folder=None):
    """A run saved by an earlier notebook, or None (saying which notebook to run) if there is none."""
    path = Path(folder or runs_dir()) / f"{family}.json"
    if not path.is_file():
        print(f"{path} not found: run {NOTEBOOK_OF[family]} first to compare with it")
        return None
    return json.loads(path.read_text())


def run_budget(results):
    """What a run was given: recipe, epochs and training images. Equal budgets compare fairly."""
    return results.get("recipe"), results.get("epochs"), results.get("train_images")


def describe_run(results):
    recipe, epochs, images = run_budget(results)
    label = " (smoke: not a result)" if results.get("profile") == "smoke" else ""
    return (
        f"{results['model']:>14}: test accuracy {results['test_accuracy']:6.2%}  "
        f"({recipe} recipe, {epochs} epoch(s), {images} training images){label}"
    )
