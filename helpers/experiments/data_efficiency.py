"""The paper's claim, measured: test accuracy against the share of CIFAR-10 trained on.

Every run takes the same number of optimizer steps, whatever its training-set size, so a
model trained on 5% of the images sees each of them twenty times as often as one trained
on all of them. What changes is only how much data there is. The steps are at least
MIN_EPOCHS_OF_SHARE (20) epochs of every share, the whole training set included (by default
exactly that many of it: 7,800 steps of 128 on CIFAR-10), so that no run stops because its
steps ran out while more data could still have taught it.

    python -m helpers.experiments.data_efficiency --out runs/data_efficiency [--seeds 0,1]

trains the 2-layer trio on 5, 10, 25, 50 and 100% of the training set and writes
`data_efficiency.csv` (one row a run) and `data_efficiency.png` to --out. Each run keeps its
own resumable folder there, so an interrupted experiment continues where it stopped.
`published_rows()` reads the result shipped with this package (see its docstring).

    python -m helpers.experiments.data_efficiency --models resnet20 --steps 2000 --out runs/data_efficiency \
        --merge-into results/data_efficiency/data_efficiency.csv --publish

trains only the CNN baseline and merges its rows into an existing table: the rows of other
models stay as they were, and the figure beside that table is redrawn from all of them. With
--publish the table (merged, else this run's) also becomes the package's copy that
`published_rows()` reads, its digest recorded in helpers/assets/SHA256SUMS.
"""

import argparse
import csv
import io
from pathlib import Path

import numpy as np

from helpers import ASSETS
from helpers.runtime.assets import record, verified
from helpers.runtime.atomic_files import write_text_atomically

FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
MIN_EPOCHS_OF_SHARE = 20  # every run trains at least this many epochs of its share
SMALL_TRIO = ("vit_lite_2_4", "cvt_2_4", "cct_2_3x2")
FIELDS = ("model", "fraction", "train_images", "steps", "test_accuracy", "train_accuracy_last_epoch", "seed")
PUBLISHED_CSV = ASSETS / "data_efficiency.csv"
# How the figure draws a model; a model not named here gets a solid line with round markers.
FIGURE_DPI = 110  # the published PNG's resolution
LINE_STYLES = {"resnet20": dict(label="ResNet-20 (CNN)", color="black", linestyle="--", marker="s")}


def balanced_subset(labels, fraction, seed=0):
    """Indices of `fraction` of the examples, the same share of every class."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}.")
    labels = np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        chosen.append(members[: max(1, round(fraction * len(members)))])
    return np.sort(np.concatenate(chosen))


def least_steps(train_images, fractions, batch_size, evaluations, min_epochs=MIN_EPOCHS_OF_SHARE):
    """The fewest optimizer steps (a multiple of `evaluations`) that train `min_epochs` epochs of
    every share of `train_images` images: those of the largest share."""
    from helpers.recipes import full_batches

    largest = max(round(fraction * train_images) for fraction in fractions)
    return -(-min_epochs * full_batches(largest, batch_size) // evaluations) * evaluations


def run_experiment(
    data, out, *, models=SMALL_TRIO, fractions=FRACTIONS, steps=None, evaluations=4, recipe="short", batch_size=None,
    seeds=(0,), min_epochs=MIN_EPOCHS_OF_SHARE, verbose=2,
):
    """Train every model on every fraction of `data`'s training split for `steps` optimizer
    steps (evaluated `evaluations` times on the whole test split), once per seed (the seed
    draws the share too). `steps` must train at least `min_epochs` epochs of every share;
    None: the fewest that do (`least_steps`). Returns one dict per run and writes them to
    `out`/data_efficiency.csv."""
    from helpers.recipes import get_recipe
    from helpers.train import train

    (x_train, y_train), test = data
    batch = batch_size or get_recipe(recipe).batch_size
    fewest = least_steps(len(y_train), fractions, batch, evaluations, min_epochs)
    steps = fewest if steps is None else steps
    if steps % evaluations:
        raise ValueError(f"steps ({steps}) must be a multiple of evaluations ({evaluations}).")
    if steps < fewest:
        raise ValueError(
            f"steps={steps} trains fewer than {min_epochs} epochs of the largest share: pass at least {fewest} "
            f"(or steps=None), so that no run stops for want of steps while data could still teach it."
        )
    out = Path(out)
    rows = []
    for seed in seeds:
        for model_name in models:
            for fraction in fractions:
                rows.append(_run_one(train, model_name, fraction, seed, x_train, y_train, test, steps, evaluations, recipe,
                                     batch_size, out, verbose))
    out.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out / "data_efficiency.csv")
    return rows


def _run_one(train, model_name, fraction, seed, x_train, y_train, test, steps, evaluations, recipe, batch_size, out, verbose):
    subset = balanced_subset(y_train, fraction, seed=seed)
    if verbose:
        print(f"--- {model_name} on {fraction:.0%} of the training set ({len(subset):,} images), {steps} steps, seed {seed}")
    run = train(
        model_name, ((x_train[subset], y_train[subset]), test), recipe=recipe, epochs=evaluations, batch_size=batch_size,
        steps_per_epoch=steps // evaluations, seed=seed, verbose=verbose,
        out=out / f"{model_name}-{round(fraction * 100):03d}pct{f'-seed{seed}' if seed else ''}",
    )
    return {
        "model": model_name, "fraction": fraction, "train_images": len(subset), "steps": steps,
        "test_accuracy": round(run.results["test_accuracy"], 4),
        "train_accuracy_last_epoch": round(run.history["accuracy"][-1], 4), "seed": seed,
    }


def write_rows(rows, path):
    """The rows as a CSV file, written atomically (`helpers.runtime.run_folder`)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(Path(path), text.getvalue())


def merge_rows(existing, new):
    """`existing` with every run of `new` added: a run (model, fraction and seed) that both hold
    is taken from `new`; the other rows of `existing` stay as they are, in their order."""
    replaced = {_run_key(row) for row in new}
    return [row for row in existing if _run_key(row) not in replaced] + list(new)


def _run_key(row):
    return row["model"], float(row["fraction"]), int(row.get("seed") or 0)


def read_rows(path):
    with open(path, newline="") as file:
        return [
            {**row, "fraction": float(row["fraction"]), "train_images": int(row["train_images"]),
             "steps": int(row["steps"]), "test_accuracy": float(row["test_accuracy"]),
             "seed": int(row.get("seed") or 0)}  # tables before seeds were recorded: seed 0
            for row in csv.DictReader(file)
        ]


def published_rows():
    """The experiment as run for this package: `python -m helpers.experiments.data_efficiency --steps 2000`
    on a 2-core CPU, on the offline copy of CIFAR-10 whose images are re-encoded as JPEG. Those
    2,000 steps predate MIN_EPOCHS_OF_SHARE: 5 epochs of the whole training set, too few (issue
    23 asks for the rerun)."""
    return read_rows(verified(PUBLISHED_CSV))


def publish_rows(rows):
    """Write `rows` as the package's copy of the table, which `published_rows` reads, and
    record its digest in the assets' manifest (`helpers.runtime.assets`)."""
    write_rows(rows, PUBLISHED_CSV)
    record(PUBLISHED_CSV)


def plot_data_efficiency(rows, title=None):
    """Test accuracy against the fraction of the training set, one line per model (the mean
    over its seeds, with their lowest and highest as error bars where there are several). A
    model not run at a share the others were run at has a gap there: its line is not drawn
    across shares it was not measured at."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    shown = sorted({row["fraction"] for row in rows})
    for model_name in dict.fromkeys(row["model"] for row in rows):
        seeds_at = {}
        for row in rows:
            if row["model"] == model_name:
                seeds_at.setdefault(row["fraction"], []).append(100 * row["test_accuracy"])
        means = np.array([np.mean(seeds_at[f]) if f in seeds_at else np.nan for f in shown])  # NaN breaks the line
        style = {"label": model_name, "marker": "o", **LINE_STYLES.get(model_name, {})}
        (line,) = ax.plot(shown, means, **style)
        if any(len(found) > 1 for found in seeds_at.values()):  # the seeds' range
            low = means - [min(seeds_at.get(f, [np.nan])) for f in shown]
            high = [max(seeds_at.get(f, [np.nan])) for f in shown] - means
            ax.errorbar(shown, means, yerr=np.nan_to_num([low, high]), fmt="none", color=line.get_color(), capsize=3)
    ax.set_xscale("log")
    ax.set_xticks(shown, [f"{fraction:.0%}" for fraction in shown])
    ax.minorticks_off()
    ax.set_xlabel("share of the CIFAR-10 training set")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or f"same number of optimizer steps per run ({rows[0]['steps']})", fontsize=10)
    fig.tight_layout()
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(SMALL_TRIO))
    parser.add_argument("--fractions", default=",".join(str(f) for f in FRACTIONS))
    parser.add_argument(
        "--steps", type=int,
        help=f"optimizer steps per run (default: {MIN_EPOCHS_OF_SHARE} epochs of the largest share, the fewest allowed)",
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each trains every run once")
    parser.add_argument(
        "--min-epochs", type=int, default=MIN_EPOCHS_OF_SHARE,
        help=f"the fewest epochs of every share a run may train (default {MIN_EPOCHS_OF_SHARE}; fewer only for quick checks)",
    )
    parser.add_argument("--evaluations", type=int, default=4, help="test-split evaluations per run")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--sample", action="store_true", help="use the shipped CIFAR-10 sample (quick checks)")
    parser.add_argument(
        "--merge-into", type=Path, metavar="CSV",
        help="also merge this run's rows into CSV (other models' rows unchanged) and redraw the figure beside it",
    )
    parser.add_argument(
        "--publish", action="store_true",
        help=f"also write the table (merged, else this run's) as the package's copy, {PUBLISHED_CSV.name} in helpers/assets/",
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from helpers.data import load_cifar10, load_cifar10_sample
    from helpers.figures.plotting import save_figure

    data = load_cifar10_sample() if args.sample else load_cifar10()
    rows = run_experiment(
        data, args.out, models=args.models.split(","), fractions=[float(f) for f in args.fractions.split(",")],
        steps=args.steps, evaluations=args.evaluations, batch_size=args.batch_size,
        seeds=[int(seed) for seed in args.seeds.split(",")], min_epochs=args.min_epochs,
    )
    save_figure(plot_data_efficiency(rows), args.out / "data_efficiency.png", dpi=FIGURE_DPI)
    if args.merge_into:
        merged = merge_rows(read_rows(args.merge_into), rows)
        write_rows(merged, args.merge_into)
        save_figure(plot_data_efficiency(merged), args.merge_into.with_suffix(".png"), dpi=FIGURE_DPI)
        print(f"{args.merge_into}: {len(rows)} rows merged into {len(merged)}; its figure redrawn")
    if args.publish:
        publish_rows(merged if args.merge_into else rows)
        print(f"{PUBLISHED_CSV}: the package's copy, its digest recorded")
    for row in rows:
        print(f"{row['model']:>14}  {row['fraction']:>5.0%}  {row['train_images']:>6,} images  seed {row['seed']}  "
              f"test accuracy {row['test_accuracy']:.2%}")


if __name__ == "__main__":
    main()
