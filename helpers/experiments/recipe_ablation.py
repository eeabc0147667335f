"""Stochastic depth on and off, over a few seeds: the short runs behind notebook 05.

Each run trains cct_2_3x2 with the "short" recipe for a fixed number of optimizer steps on a
class-balanced tenth of the first 45,000 training images, and is scored on the last 2,500
training images (the second half of the validation split of `scripts/short_budget_sweep.py`,
to keep the evaluations cheap on a CPU; the test split is never loaded). Runs differ only in
`stochastic_depth` (0, or the models' default 0.1) and the seed (the weights' initialization and
the order and augmentation of the batches; the subset is the same for all).

    python -m helpers.experiments.recipe_ablation --out /tmp/recipe_ablation --seeds 0,1,2 --steps 200

writes one resumable run folder per run to --out (`helpers.train`); with --copy it then copies
each run's config.json, history.csv and results.json to results/recipe_ablation/ and gathers
them, with the records of the short-budget sweep (results/short_budget/), into
helpers/assets/recipe_records.json, which notebook 05 reads (`read_runs`, `read_sweep`): the
notebook never trains these runs, and an installed package (Colab) has no results/ folder.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from helpers import ASSETS
from helpers.runtime.assets import record, verified
from helpers.runtime.run_folder import read_history_columns

MODEL = "cct_2_3x2"
SUBSET_FRACTION = 0.1
TRAIN_POOL = 45000  # the subset is drawn from these first images; the validation images follow them
VALIDATION_IMAGES = 2500
STOCHASTIC_DEPTHS = (0.0, 0.1)
RESULTS = Path(__file__).resolve().parents[2] / "results"
RECORDS = RESULTS / "recipe_ablation"
BUNDLE = ASSETS / "recipe_records.json"
RECORD_FILES = ("config.json", "history.csv", "results.json")


def run_name(stochastic_depth, seed):
    return f"sd_{stochastic_depth:g}_seed_{seed}"


def ablation_data():
    """((a balanced tenth of the first 45,000 training images), (the last 2,500))."""
    from helpers.data import load_cifar10
    from helpers.experiments.data_efficiency import balanced_subset

    (x_train, y_train), _ = load_cifar10()
    subset = balanced_subset(y_train[:TRAIN_POOL], SUBSET_FRACTION, seed=0)
    return (x_train[subset], y_train[subset]), (x_train[-VALIDATION_IMAGES:], y_train[-VALIDATION_IMAGES:])


def run_all(out, seeds, steps, evaluations=4, stochastic_depths=STOCHASTIC_DEPTHS):
    from helpers.train import train

    if steps % evaluations:
        raise ValueError(f"steps ({steps}) must be a multiple of evaluations ({evaluations}).")
    data = ablation_data()
    for seed in seeds:  # seed by seed, so that a shortened session still holds pairs
        for rate in stochastic_depths:
            print(f"--- {run_name(rate, seed)}: {steps} steps on {len(data[0][0]):,} images", flush=True)
            train(
                MODEL, data, recipe="short", epochs=evaluations, steps_per_epoch=steps // evaluations,
                out=Path(out) / run_name(rate, seed), seed=seed, precision="float32", verbose=2,
                stochastic_depth=rate,
            )


def copy_records(runs_dir, records=RECORDS):
    """Copy each finished run's config, history and results from `runs_dir` to `records`."""
    from helpers.runtime.atomic_files import write_text_atomically

    copied = []
    for run_dir in sorted(Path(runs_dir).iterdir()):
        if not (run_dir / "results.json").exists():
            continue
        (Path(records) / run_dir.name).mkdir(parents=True, exist_ok=True)
        for name in RECORD_FILES:
            write_text_atomically(Path(records) / run_dir.name / name, (run_dir / name).read_text())
        copied.append(run_dir.name)
    return copied


def sweep_records(results=RESULTS):
    """Every try of the short-budget sweep (results/short_budget/TRY/: validation.json, config,
    history), in the order of the folders' names."""
    return [
        {**json.loads((folder / "validation.json").read_text()), "config": json.loads((folder / "config.json").read_text()),
         "history": read_history_columns(folder)}
        for folder in sorted(path.parent for path in (Path(results) / "short_budget").glob("*/validation.json"))
    ]


def bundle_records(results=RESULTS):
    """What notebook 05 reads, gathered from the records under `results`: the short-budget
    sweep (`sweep_records`) and every run here (results/recipe_ablation/RUN/: config, results,
    history)."""
    runs = [
        {"name": folder.name, "config": json.loads((folder / "config.json").read_text()),
         "results": json.loads((folder / "results.json").read_text()), "history": read_history_columns(folder)}
        for folder in sorted((Path(results) / "recipe_ablation").glob("sd_*"))
    ]
    return {"short_budget": sweep_records(results), "recipe_ablation": runs}


def write_bundle(results=RESULTS, path=BUNDLE):
    """Write `bundle_records()` to the package's assets (a Colab install has no results/ folder),
    with its digest in their manifest (`helpers.runtime.assets`)."""
    from helpers.runtime.atomic_files import write_text_atomically

    write_text_atomically(Path(path), json.dumps(bundle_records(results), indent=1) + "\n")
    record(path)


def _load(bundle):
    return json.loads(verified(BUNDLE).read_text()) if bundle is None else bundle


def _arrays(history):
    return {key: np.array(values) for key, values in history.items()}


def read_sweep(bundle=None):
    """The short-budget sweep's tries (from the package's copy of its records, or `bundle`):
    dicts with the try's name, model, why, epochs, final validation accuracy, recipe (config)
    and history (columns as float arrays), best first."""
    tries = [{**entry, "history": _arrays(entry["history"])} for entry in _load(bundle)["short_budget"]]
    return sorted(tries, key=lambda entry: -entry["validation_accuracy"])


def read_runs(bundle=None):
    """The seed runs (from the package's copy of their records, or `bundle`): dicts with their
    name, stochastic depth, seed, steps, final validation accuracy, training time and history
    (columns as float arrays), sorted by rate and seed."""
    runs = []
    for entry in _load(bundle)["recipe_ablation"]:
        config, results = entry["config"], entry["results"]
        runs.append({
            "name": entry["name"],
            "stochastic_depth": config["model_overrides"]["stochastic_depth"],
            "seed": config["seed"],
            "steps": config["steps_per_epoch"] * config["epochs"],
            "validation_accuracy": results["test_accuracy"],  # train() scores its second split
            "training_time_s": results["training_time_s_this_session"],
            "history": _arrays(entry["history"]),
        })
    return sorted(runs, key=lambda run: (run["stochastic_depth"], run["seed"]))


def spread(runs, stochastic_depth):
    """(mean, sample standard deviation, number of seeds) of the validation accuracy."""
    values = np.array([run["validation_accuracy"] for run in runs if run["stochastic_depth"] == stochastic_depth])
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan"), len(values)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder for the run folders (outside the repository)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per run")
    parser.add_argument(
        "--copy", action="store_true",
        help=f"then copy the finished runs' records to {RECORDS} and rewrite {BUNDLE.name} (the notebook's copy of them)",
    )
    args = parser.parse_args(argv)
    run_all(args.out, [int(seed) for seed in args.seeds.split(",")], args.steps)
    if args.copy:
        print("copied:", ", ".join(copy_records(args.out)))
        write_bundle()


if __name__ == "__main__":
    main()
