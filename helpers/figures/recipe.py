"""The figures of notebook 05 (the training recipe): augmented images in rows, the
learning-rate schedules, and the records of the short-budget sweep and of the seed runs
(`helpers.experiments.recipe_ablation`). Each function returns its matplotlib Figure."""

import numpy as np

import matplotlib.pyplot as plt

from helpers.data import CLASS_NAMES
from helpers.runtime.checks import check_images


def label_title(label, class_names=CLASS_NAMES):
    """A class index as its name; a (mixed) label vector as its classes by weight, e.g. "0.62 cat\\n0.38 ship"."""
    label = np.asarray(label)
    if label.ndim == 0:
        return class_names[int(label)]
    order = np.argsort(-label)
    shown = [i for i in order[:2] if label[i] > 0.005]
    if len(shown) == 1 and label[shown[0]] > 0.995:
        return class_names[shown[0]]
    return "\n".join(f"{label[i]:.2f} {class_names[i]}" for i in shown)


def show_augmentation_rows(rows, class_names=CLASS_NAMES, size=1.3):
    """One row per augmentation step: `rows` is a {row name: (images 0-255, labels)} dict, the
    labels class indices or (mixed) label vectors, shown under each image."""
    columns = max(len(images) for images, _ in rows.values())
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.6 + columns * size, len(rows) * (size + 0.45)), squeeze=False)
    for axes_row, (name, (images, labels)) in zip(axes, rows.items()):
        images = check_images(np.asarray(images), what=name)
        for i, ax in enumerate(axes_row):
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= len(images):
                ax.axis("off")
                continue
            ax.imshow(np.clip(np.round(images[i]), 0, 255).astype("uint8"))
            ax.set_xlabel(label_title(labels[i], class_names), fontsize=7, linespacing=1.0)
        axes_row[0].set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_learning_rates(recipes, steps_per_epoch):
    """One panel per recipe: its learning rate at every step (`helpers.recipes.learning_rates`),
    with the warm-up and cool-down shaded and, where the recipe stops MixUp/CutMix, that epoch."""
    from helpers.recipes import learning_rates

    fig, axes = plt.subplots(1, len(recipes), figsize=(4.6 * len(recipes), 3.4), squeeze=False)
    for ax, recipe in zip(axes[0], recipes):
        rates = learning_rates(recipe, steps_per_epoch)
        epochs = np.arange(len(rates)) / steps_per_epoch
        warmup, cooldown = recipe.phase_steps(steps_per_epoch)
        ax.plot(epochs, rates, lw=1.5)
        ax.axvspan(0, warmup / steps_per_epoch, color="tab:orange", alpha=0.2, label=f"warm-up ({warmup / steps_per_epoch:g} epochs)")
        ax.axvspan(warmup / steps_per_epoch, (len(rates) - cooldown) / steps_per_epoch, color="tab:blue", alpha=0.07, label="cosine decay")
        if cooldown:
            ax.axvspan((len(rates) - cooldown) / steps_per_epoch, recipe.epochs, color="tab:green", alpha=0.2,
                       label=f"cool-down ({cooldown / steps_per_epoch:g} epochs)")
        if recipe.mix_off_epoch is not None:
            ax.axvline(recipe.mix_off_epoch, color="black", ls=":", lw=1, label=f"MixUp/CutMix stop (epoch {recipe.mix_off_epoch})")
        ax.set(title=f"{recipe.name}: peak {rates.max():.2g}, {recipe.epochs} epochs", xlabel="epoch", ylabel="learning rate")
        ax.set_xlim(0, recipe.epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_sweep(tries, highlight=()):
    """Validation accuracy per epoch of every try of the short-budget sweep
    (`helpers.experiments.recipe_ablation.read_sweep`), best first in the legend; `highlight` draws those thick."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for run in sorted(tries, key=lambda run: -run["validation_accuracy"]):
        accuracy = run["history"]["val_accuracy"]
        ax.plot(np.arange(1, len(accuracy) + 1), accuracy * 100, lw=2.6 if run["try"] in highlight else 1.1,
                label=f"{run['try']}: {run['validation_accuracy']:.2%}")
    ax.set(xlabel="epoch", ylabel="validation accuracy (%)",
           title=f"{tries[0]['model']}, one seed per try: validation accuracy (last 5,000 training images)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_seed_runs(runs):
    """The seed runs (`helpers.experiments.recipe_ablation.read_runs`): validation accuracy per evaluation,
    one line per run coloured by stochastic depth (left); each run's final accuracy, with the
    mean and the sample standard deviation of each setting (right)."""
    rates = sorted({run["stochastic_depth"] for run in runs})
    colors = dict(zip(rates, ("tab:blue", "tab:red", "tab:green")))
    fig, (curves, finals) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": (3, 2)})
    for run in runs:
        history = run["history"]
        steps = (np.arange(len(history["val_accuracy"])) + 1) * run["steps"] / len(history["val_accuracy"])
        curves.plot(steps, history["val_accuracy"] * 100, marker=".", color=colors[run["stochastic_depth"]],
                    label=f"stochastic depth {run['stochastic_depth']:g}, seed {run['seed']}")
    curves.set(xlabel="optimizer step", ylabel="validation accuracy (%)")
    curves.grid(alpha=0.3)
    curves.legend(fontsize=7)
    for position, rate in enumerate(rates):
        values = np.array([run["validation_accuracy"] for run in runs if run["stochastic_depth"] == rate]) * 100
        # Side by side, so that seeds with the same accuracy stay visible as separate dots.
        offsets = np.linspace(-0.12, 0.0, len(values)) if len(values) > 1 else np.zeros(1)
        finals.plot(position + offsets, values, "o", color=colors[rate], alpha=0.7)
        if len(values) > 1:
            finals.errorbar(position + 0.15, values.mean(), yerr=values.std(ddof=1), fmt="s", color="black", capsize=4)
    finals.set_xticks(range(len(rates)), [f"stochastic depth {rate:g}" for rate in rates])
    finals.set_xlim(-0.5, len(rates) - 0.5)
    finals.set(ylabel="final validation accuracy (%)", title="each seed; black: mean ± std")
    finals.grid(alpha=0.3)
    fig.tight_layout()
    return fig
