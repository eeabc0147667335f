"""The expected ranges of the design exercises: each exercise's runs, trained here with two seeds.

The design exercises of notebooks 03, 04 and 05 ask a student to predict a change, then train it
at the exercise budget and compare: 3 epochs on the first 10,000 training images, scored on the
last 5,000 training images (held out: the test split is not read). This script trains every
configuration they name with seeds 0 and 1, so that each exercise can quote the range we measured.

    python scripts/exercise_ranges.py run                 # every configuration and seed (resumable)
    python scripts/exercise_ranges.py run --only cct_2_3x2 --seeds 0
    python scripts/exercise_ranges.py summarize           # results/exercise_ranges/summary.csv

Each run keeps its folder in runs/exercise_ranges/ (resumable) and its result in
results/exercise_ranges/CONFIG_seedN.json.
"""

import argparse
import csv
import io
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS, TRAIN_IMAGES, HELD_OUT = 3, 10_000, 5_000
SEEDS = (0, 1)
RESULTS = ROOT / "results" / "exercise_ranges"

# name: (model, train() keyword arguments, the exercise that uses it)
CONFIGURATIONS = {
    "cct_2_3x2": ("cct_2_3x2", {}, "03, 04 and 05: the baseline"),
    "cct_2_3x2_class_token": ("cct_2_3x2", {"pooling": "class_token"}, "03: SeqPool or a class token, on CCT's tokens"),
    "cct_2_3x2_no_position": ("cct_2_3x2", {"positional_embedding": "none"}, "04: is the position embedding optional for CCT?"),
    "vit_lite_2_4": ("vit_lite_2_4", {}, "04: the same question for ViT-Lite"),
    "vit_lite_2_4_no_position": ("vit_lite_2_4", {"positional_embedding": "none"}, "04: the same question for ViT-Lite"),
    "cct_2_3x2_short": ("cct_2_3x2", {"recipe": "short"}, "05: the short recipe's peak rate at the exercise budget"),
}


def exercise_split():
    """(the first TRAIN_IMAGES training images, the last HELD_OUT ones): what the exercises train and score on."""
    from helpers.data import load_cifar10

    (x_train, y_train), _ = load_cifar10()
    return (x_train[:TRAIN_IMAGES], y_train[:TRAIN_IMAGES]), (x_train[-HELD_OUT:], y_train[-HELD_OUT:])


def run(names, seeds, runs_dir):
    from helpers.runtime.atomic_files import write_json_atomically
    from helpers.train import train

    data = exercise_split()
    for name in names:
        model, arguments, exercise = CONFIGURATIONS[name]
        for seed in seeds:
            result = train(model, data, epochs=EPOCHS, seed=seed, out=Path(runs_dir) / f"{name}_seed{seed}", verbose=2, **arguments)
            record = {
                "configuration": name, "model": model, "seed": seed, "epochs": result.results["epochs"],
                "recipe": result.results["recipe"], "held_out_accuracy": round(result.results["test_accuracy"], 4),
                "training_time_s": result.results["training_time_s_this_session"], "device": result.results["device"],
                "precision": result.results["precision"], "exercise": exercise,
            }
            RESULTS.mkdir(parents=True, exist_ok=True)
            write_json_atomically(RESULTS / f"{name}_seed{seed}.json", record)
            print(json.dumps(record))


def summarize():
    from helpers.runtime.atomic_files import write_text_atomically

    records = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("*_seed*.json"))]
    if not records:
        raise SystemExit(f"no runs in {RESULTS}: run them first")
    by_name = {}
    for record in records:
        by_name.setdefault(record["configuration"], []).append(100 * record["held_out_accuracy"])
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["configuration", "seeds", "lowest", "highest", "mean"])
    for name in CONFIGURATIONS:
        if name in by_name:
            values = by_name[name]
            writer.writerow([name, len(values), f"{min(values):.2f}", f"{max(values):.2f}", f"{statistics.mean(values):.2f}"])
            print(f"{name:>26}: {min(values):.2f}-{max(values):.2f}% over {len(values)} seed(s)")
    write_text_atomically(RESULTS / "summary.csv", table.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train_them = commands.add_parser("run", help="train the configurations (resumable)")
    train_them.add_argument("--only", nargs="+", choices=sorted(CONFIGURATIONS), default=list(CONFIGURATIONS))
    train_them.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    train_them.add_argument("--runs-dir", type=Path, default=ROOT / "runs" / "exercise_ranges")
    commands.add_parser("summarize", help="write summary.csv from the finished runs")
    arguments = parser.parse_args(argv)
    if arguments.command == "run":
        run(arguments.only, arguments.seeds, arguments.runs_dir)
    else:
        summarize()


if __name__ == "__main__":
    main()
