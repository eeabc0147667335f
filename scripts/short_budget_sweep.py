"""Choose the recipe for a short budget without looking at the test split.

A 30-minute budget on 2 CPU cores trains cct_2_3x2 for about 25 epochs (2-core Zen 4,
mixed_bfloat16, issue 14). Each try here changes the "short" recipe in one or two settings and
trains 25 epochs on the first 45,000 training images, scored on the last 5,000 (the
validation split); the test split is never loaded. The rule, fixed before any try ran: the try
of 25 epochs with the highest final validation accuracy wins ("fast" in helpers.recipes).
Tries with other epochs only show how the result depends on the epochs a budget allows.

    python scripts/short_budget_sweep.py run lr_1e-3          # one try (a run folder; resumable)
    python scripts/short_budget_sweep.py summarize            # summary.csv, curves.png, the winner
    python scripts/short_budget_sweep.py ship vit_lite_2_4 --minutes 4 --max-epochs 100 --out DIR
                                              # the winner's settings on all 50,000, scored on the test split

Each try's config.json and history.csv are copied to results/short_budget/TRY/.
"""

import argparse
import csv
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MODEL = "cct_2_3x2"
EPOCHS = 25
RESULTS = ROOT / "results" / "short_budget"

# name: (recipe overrides of "short", why it is tried)
TRIES = {
    "short": ({}, "the short recipe as it is (lr 5.5e-4, 3 warm-up epochs)"),
    "lr_1e-3": ({"learning_rate": 1e-3}, "a short run may take a higher peak rate"),
    "lr_2e-3": ({"learning_rate": 2e-3}, "higher still"),
    "lr_1e-3_warmup_1": ({"learning_rate": 1e-3, "warmup_epochs": 1}, "less time at low rates"),
    "lr_1e-3_batch_256": ({"learning_rate": 1e-3, "batch_size": 256}, "fewer, larger steps (rates x sqrt(2))"),
    "lr_1e-3_no_smoothing": ({"learning_rate": 1e-3, "label_smoothing": 0.0}, "label smoothing off"),
    "lr_1e-3_paper_augment": (
        {"learning_rate": 1e-3, "augment": "paper", "mix_until": 0.5},
        "RandAugment, MixUp and CutMix (the paper's augmentation, mixing for the first half)",
    ),
    "lr_1e-3_20_epochs": ({"learning_rate": 1e-3, "epochs": 20}, "epochs sensitivity (not a candidate)"),
    "lr_1e-3_30_epochs": ({"learning_rate": 1e-3, "epochs": 30}, "epochs sensitivity (not a candidate)"),
}


def recipe_of(name):
    from helpers.recipes import get_recipe

    overrides, why = TRIES[name]
    return get_recipe("short", **{"epochs": EPOCHS, **overrides, "description": f"short-budget try {name}: {why}"})


def validation_split():
    """(first 45,000 training images, last 5,000): the test split stays unread."""
    from helpers.data import hold_out_validation, load_cifar10

    return hold_out_validation(load_cifar10()[0])


def run(name, runs_dir, seed):
    train_try(name, recipe_of(name), Path(runs_dir) / name, RESULTS / name, seed, TRIES[name][1])


def train_try(name, recipe, run_dir, keep, seed, why):
    """Train one try of a sweep into `run_dir` on the validation split, and keep its config,
    history and final validation accuracy (validation.json) in `keep`."""
    from helpers.runtime.atomic_files import write_json_atomically, write_text_atomically
    from helpers.train import train

    result = train(MODEL, validation_split(), recipe=recipe, out=run_dir, seed=seed, verbose=2)
    keep.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "history.csv"):
        write_text_atomically(keep / file, (run_dir / file).read_text())
    summary = {
        "try": name, "model": MODEL, "seed": seed, "epochs": result.results["epochs"],
        "validation_accuracy": round(result.results["test_accuracy"], 4),  # train() scores its 2nd split
        "training_time_s": result.results["training_time_s_this_session"],
        "train_images_per_s": result.results["train_images_per_s"], "device": result.results["device"],
        "precision": result.results["precision"], "backend": result.results["backend"], "why": why,
    }
    write_json_atomically(keep / "validation.json", summary)
    print(json.dumps(summary))


def winner(rows):
    candidates = [row for row in rows if int(row["epochs"]) == EPOCHS]
    return max(candidates, key=lambda row: float(row["validation_accuracy"]))["try"] if candidates else None


def summarize():
    import matplotlib

    matplotlib.use("Agg")
    from helpers.runtime.atomic_files import write_text_atomically
    from helpers.figures.plotting import save_figure
    from helpers.experiments.recipe_ablation import read_sweep, sweep_records
    from helpers.figures.recipe import plot_sweep

    tries = read_sweep({"short_budget": sweep_records(RESULTS.parent)})  # best first
    if not tries:
        raise SystemExit(f"no finished tries in {RESULTS}")
    rows = [{key: value for key, value in entry.items() if key not in ("config", "history")} for entry in tries]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(RESULTS / "summary.csv", table.getvalue())
    best = winner(rows)
    save_figure(plot_sweep(tries, highlight=(best,)), RESULTS / "curves.png", dpi=110)
    print(f"winner: {best}")
    return best


def ship(model_name, minutes, max_epochs, out, seed):
    """Train `model_name` on the whole training set with the winning try's settings (as recipe
    "fast", at most `max_epochs`) under a budget of `minutes`, scored on the test split."""
    import dataclasses

    from helpers.data import load_cifar10
    from helpers.train import train

    with open(RESULTS / "summary.csv") as file:
        best = winner(list(csv.DictReader(file)))
    recipe = dataclasses.replace(
        recipe_of(best), name="fast", epochs=max_epochs,
        description=f"the winner of scripts/short_budget_sweep.py ({best}): {TRIES[best][1]}",
    )
    result = train(model_name, load_cifar10(), recipe=recipe, minutes=minutes, out=out, seed=seed, verbose=2)
    print(json.dumps(result.results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train one try")
    one.add_argument("name", choices=sorted(TRIES))
    one.add_argument("--runs-dir", default=ROOT / "runs" / "short_budget", type=Path)
    one.add_argument("--seed", type=int, default=0)
    commands.add_parser("summarize", help="summary.csv and curves.png of the finished tries; prints the winner")
    final = commands.add_parser("ship", help="train a model with the winner's settings under a budget")
    final.add_argument("model")
    final.add_argument("--minutes", type=float, required=True)
    final.add_argument("--max-epochs", type=int, required=True)
    final.add_argument("--out", type=Path, required=True)
    final.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.name, args.runs_dir, args.seed)
    elif args.command == "ship":
        ship(args.model, args.minutes, args.max_epochs, args.out, args.seed)
    else:
        summarize()


if __name__ == "__main__":
    main()
