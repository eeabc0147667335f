"""ViT-Lite, CVT and CCT at an equal budget, three seeds each: the comparison notebooks 02-04 and 06 draw.

Each of vit_lite_2_4, cvt_2_4 and cct_2_3x2 trains with the same recipe (the short-budget
recipe, `helpers.recipes.SHORT_BUDGET_RECIPE`, over --epochs epochs, at least 20) and seeds
0, 1 and 2 on the first 45,000 training images; every epoch is scored on the last 5,000 (the
lessons' validation split, `helpers.data.hold_out_validation`) and the test split is read once,
after training. Runs resume, so the trio can span sessions.

    python scripts/equal_budget_trio.py run cct_2_3x2 --seed 0 --epochs 20   # one run (resumable)
    python scripts/equal_budget_trio.py summarize                            # summary.csv, curves.png, mean and spread

results/equal_budget/MODEL_seedN/ keeps each run's config.json, history.csv and results.json;
`summarize` writes summary.csv (one row a run) and curves.png (validation accuracy per epoch, and
each model's final test accuracies with their mean and sample standard deviation).
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

MODELS = ("vit_lite_2_4", "cvt_2_4", "cct_2_3x2")
SEEDS = (0, 1, 2)
MIN_EPOCHS = 20
RESULTS = ROOT / "results" / "equal_budget"


def run(model, seed, epochs, runs_dir):
    from helpers.data import hold_out_validation, load_cifar10
    from helpers.recipes import SHORT_BUDGET_RECIPE
    from helpers.runtime.atomic_files import write_text_atomically
    from helpers.train import train

    if epochs < MIN_EPOCHS:
        raise SystemExit(f"--epochs {epochs}: the equal-budget comparison trains at least {MIN_EPOCHS}")
    name = f"{model}_seed{seed}"
    train_split, test_split = load_cifar10()
    result = train(
        model, hold_out_validation(train_split), test=test_split, recipe=SHORT_BUDGET_RECIPE, epochs=epochs, seed=seed,
        out=runs_dir / name, verbose=2,
    )
    keep = RESULTS / name
    keep.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "history.csv", "results.json"):
        write_text_atomically(keep / file, (runs_dir / name / file).read_text())
    print(json.dumps(result.results))


def records(results=RESULTS):
    """Every finished run: its results.json, with the validation accuracy per epoch from its history."""
    rows = []
    for path in sorted(Path(results).glob("*/results.json")):
        with open(path.parent / "history.csv") as file:
            curve = [float(row["val_accuracy"]) for row in csv.DictReader(file)]
        config = json.loads((path.parent / "config.json").read_text())
        rows.append({**json.loads(path.read_text()), "seed": config["seed"], "curve": curve})
    return rows


def spread(rows):
    """{model: (mean, sample standard deviation or None, the seeds)} of the final test accuracies."""
    table = {}
    for model in MODELS:
        found = {row["seed"]: row["test_accuracy"] for row in rows if row["model"] == model}
        if found:
            values = list(found.values())
            table[model] = (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None, sorted(found))
    return table


def summarize():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.figures.plotting import save_figure
    from helpers.runtime.atomic_files import write_text_atomically

    rows = records()
    if not rows:
        raise SystemExit(f"no finished runs in {RESULTS}")
    budgets = {(row["recipe"], row["epochs"], row["train_images"]) for row in rows}
    if len(budgets) > 1:
        raise SystemExit(f"the runs in {RESULTS} had different budgets {sorted(budgets)}: no equal-budget comparison")
    table = io.StringIO(newline="")
    fields = ["model", "seed", "recipe", "epochs", "train_images", "test_accuracy", "precision", "device", "backend"]
    writer = csv.DictWriter(table, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(RESULTS / "summary.csv", table.getvalue())
    fig, (curves, finals) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": (3, 2)})
    summary = spread(rows)
    for position, (color, model) in enumerate(zip(("tab:blue", "tab:orange", "tab:green"), MODELS)):
        for row in (row for row in rows if row["model"] == model):
            curves.plot(range(1, len(row["curve"]) + 1), [100 * value for value in row["curve"]], color=color, lw=1,
                        label=model if row["seed"] == summary[model][2][0] else None)
            finals.plot(position, 100 * row["test_accuracy"], "o", color=color, alpha=0.7)
        mean, deviation, seeds = summary.get(model, (None, None, ()))
        if deviation is not None:
            finals.errorbar(position + 0.15, 100 * mean, yerr=100 * deviation, fmt="s", color="black", capsize=4)
        print(f"{model}: {mean:.2%} mean over seeds {seeds}" + (f", sample std {deviation:.2%}" if deviation else ""))
    recipe, epochs, images = budgets.pop()
    curves.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"{recipe} recipe, {epochs} epochs, {images:,} images")
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8)
    finals.set_xticks(range(len(MODELS)), MODELS)
    finals.set(ylabel="final test accuracy (%)", title="each seed; black: mean ± sample std")
    finals.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    save_figure(fig, RESULTS / "curves.png", dpi=110)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train one model with one seed")
    one.add_argument("model", choices=MODELS)
    one.add_argument("--seed", type=int, choices=SEEDS, required=True)
    one.add_argument("--epochs", type=int, required=True)
    one.add_argument("--runs-dir", default=ROOT / "runs" / "equal_budget", type=Path)
    commands.add_parser("summarize", help="summary.csv and curves.png of the finished runs")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.model, args.seed, args.epochs, args.runs_dir)
    else:
        summarize()


if __name__ == "__main__":
    main()
