"""Pictures the notebooks draw: training curves, image and patch grids, SeqPool maps,
confusion matrices. Each function returns its matplotlib Figure."""

import csv
from pathlib import Path

import numpy as np

import matplotlib.pyplot as plt

from helpers.runtime.atomic_files import atomic_path
from helpers.data import CLASS_NAMES
from helpers.runtime.checks import check_images


def _history_dict(history):
    """A Keras History, a {metric: [values]} dict, or a path to a CSVLogger file."""
    if hasattr(history, "history"):
        return history.history
    if isinstance(history, (str, Path)):
        with open(history, newline="") as file:
            rows = list(csv.DictReader(file))
        return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"} if rows else {}
    return dict(history)


def plot_history(histories, metrics=("loss", "accuracy"), title=None):
    """Training (solid) and validation (dashed) curves, one panel per metric.

    `histories` is one history or a {run name: history} dict to compare runs on the same axes.
    """
    if not isinstance(histories, dict) or all(isinstance(v, list) for v in histories.values()):
        histories = {"": histories}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for color, (run, history) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4, histories.items()):
        values = _history_dict(history)
        for ax, metric in zip(axes[0], metrics):
            for key, style, split in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                if key in values:
                    epochs = np.arange(1, len(values[key]) + 1)
                    label = f"{run} {split}".strip()
                    ax.plot(epochs, values[key], style, color=color, label=label, marker="." if len(epochs) < 30 else None)
    for ax, metric in zip(axes[0], metrics):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _class_indices(values, count, class_names, what):
    """The first `count` entries of `values` as class indices (shape (N,) or (N, 1)); None stays
    None. Scores, one-hot rows or indices out of range raise a ValueError naming the fix."""
    if values is None:
        return None
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"{what} has shape {values.shape}: one score per class (logits, probabilities or one-hot)? Pass class "
            f"indices, shape (N,): np.argmax({what}, axis=-1)."
        )
    if len(values) < count:
        raise ValueError(f"{what} has {len(values)} entries for {count} images: pass one class index per image.")
    values = values[:count]
    if values.dtype == object or not np.issubdtype(values.dtype, np.number) or not np.all(values == np.round(values)):
        raise ValueError(
            f"{what} holds {values.dtype} values such as {values[:3].tolist()}, not class indices: pass whole numbers "
            f"0-{len(class_names) - 1} (from scores: np.argmax(scores, axis=-1))."
        )
    bad = values[(values < 0) | (values >= len(class_names))]
    if bad.size:
        raise ValueError(
            f"{what} holds {bad.size} class indices outside 0-{len(class_names) - 1}, e.g. {bad[:3].tolist()}: pass "
            "class_names for that many classes, or fix the indices."
        )
    return values.astype(int)


def show_images(images, labels=None, predictions=None, class_names=CLASS_NAMES, columns=8, rows=4, size=1.4):
    """A grid of images with their class names (and predictions, red when wrong). Images
    are raw pixels 0-255; labels and predictions are class indices."""
    images = check_images(images)
    count = min(len(images), columns * rows)
    labels = _class_indices(labels, count, class_names, "labels")
    predictions = _class_indices(predictions, count, class_names, "predictions")
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * (size + 0.25)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        ax.imshow(np.asarray(images[i]).astype("uint8"))
        title, color = _class_title(i, labels, predictions, class_names, separator="\n→ ")
        ax.set_title(title, fontsize=8, color=color)
    fig.tight_layout()
    return fig


def _class_title(i, labels, predictions, class_names, separator):
    """Image i's title and its colour: the true class, the prediction, or "true → predicted"
    (green when right, red when wrong)."""
    title, color = "", "black"
    if labels is not None:
        title = class_names[int(labels[i])]
    if predictions is not None:
        predicted = class_names[int(predictions[i])]
        color = "green" if labels is None or predicted == title else "red"
        title = predicted if labels is None else f"{title}{separator}{predicted}"
    return title, color


def show_patches(image, patch_size):
    """Left, the image (raw pixels 0-255, shape (height, width, 3)) with the patch grid drawn over it
    and each patch's token number; right, the same patches drawn apart, in token order."""
    image = check_images(np.asarray(image)[None], what="image")[0].astype("uint8")
    rows, cols = image.shape[0] // patch_size, image.shape[1] // patch_size
    fig = plt.figure(figsize=(7.2, 3.9))
    whole, apart = fig.add_gridspec(1, 2, wspace=0.08)
    overlay = fig.add_subplot(whole)
    overlay.imshow(image, interpolation="nearest")
    for edge in range(1, max(rows, cols)):  # the borders between patches, in pixel coordinates
        if edge < cols:
            overlay.axvline(edge * patch_size - 0.5, color="white", linewidth=0.8)
        if edge < rows:
            overlay.axhline(edge * patch_size - 0.5, color="white", linewidth=0.8)
    if rows * cols <= 64:  # numbers stay legible up to 8x8 patches
        for index in range(rows * cols):
            r, c = divmod(index, cols)
            overlay.text((c + 0.5) * patch_size - 0.5, (r + 0.5) * patch_size - 0.5, str(index), color="white",
                         fontsize=6, ha="center", va="center", bbox={"facecolor": "black", "alpha": 0.4, "pad": 0.5, "linewidth": 0})
    overlay.set_xticks([])
    overlay.set_yticks([])
    overlay.set_title("the grid over the image", fontsize=8)
    grid = apart.subgridspec(rows, cols, wspace=0.1, hspace=0.1)
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        ax = fig.add_subplot(grid[r, c])
        ax.imshow(image[r * patch_size : (r + 1) * patch_size, c * patch_size : (c + 1) * patch_size], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{rows * cols} patches of {patch_size}x{patch_size} pixels = {rows * cols} tokens, numbered in token order", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.03, top=0.86)
    return fig


def plot_seqpool_weights(images, weights, labels=None, class_names=CLASS_NAMES, columns=6, predictions=None, vmax=None, alpha=0.6):
    """Each image above its SeqPool weights, drawn over the image (transparency `alpha`), one token per cell
    of the grid (square); with `predictions`, each image's title also names the predicted class (red when wrong).

    The colour is weight x number of tokens, so 1 means uniform weights and 3 a token weighted three times
    the uniform share; every panel uses the same scale, from 0 to `vmax` (by default the largest value
    drawn: pass the same `vmax` to compare two figures), with one colour bar. Each map's title gives its
    largest value on that scale."""
    images, weights = check_images(images), np.asarray(weights)
    if weights.ndim != 2 or len(weights) < min(len(images), columns):
        raise ValueError(
            f"weights has shape {weights.shape}: pass SeqPool's weights of each image, shape (N, tokens), as "
            "helpers.models.seqpool_weights(model, images) returns them."
        )
    side = int(round(np.sqrt(weights.shape[1])))
    if side * side != weights.shape[1]:
        raise ValueError(f"{weights.shape[1]} tokens do not form a square grid.")
    count = min(len(images), columns)
    labels = _class_indices(labels, count, class_names, "labels")
    predictions = _class_indices(predictions, count, class_names, "predictions")
    times_uniform = weights[:count] * weights.shape[1]
    vmax = float(times_uniform.max()) if vmax is None else vmax
    fig, axes = plt.subplots(2, count, figsize=(count * 1.6 + 0.8, 3.6), squeeze=False)
    for i in range(count):
        image = np.asarray(images[i]).astype("uint8")
        axes[0, i].imshow(image)
        title, color = _class_title(i, labels, predictions, class_names, separator=" → ")
        axes[0, i].set_title(title, fontsize=8, color=color)
        # The token grid stretched over the image (extent): a patch token's cell covers its own pixels.
        axes[1, i].imshow(image, extent=(0, side, side, 0))
        shown = axes[1, i].imshow(
            times_uniform[i].reshape(side, side), cmap="magma", vmin=0, vmax=vmax, alpha=alpha, extent=(0, side, side, 0)
        )
        axes[1, i].set_title(f"max {times_uniform[i].max():.1f}x uniform", fontsize=7)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle(f"SeqPool weights over the {side}x{side} tokens, as weight x {weights.shape[1]} (1 = uniform)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.9, 1))  # the right tenth holds the colour bar, beside the maps' row
    bottom, top = axes[1, 0].get_position().y0, axes[1, 0].get_position().y1
    fig.colorbar(shown, cax=fig.add_axes((0.92, bottom, 0.015, top - bottom)), label="weight x tokens")
    return fig


def plot_confusion_matrix(labels, predictions, class_names=CLASS_NAMES):
    """Row-normalised confusion matrix: row = true class, column = predicted class."""
    count = len(labels)
    if len(predictions) != count:
        raise ValueError(f"{count} labels but {len(predictions)} predictions: pass one prediction per label.")
    labels = _class_indices(labels, count, class_names, "labels")
    predictions = _class_indices(predictions, count, class_names, "predictions")
    n = len(class_names)
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (labels, predictions), 1)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (r, c), rate in np.ndenumerate(rates):
        ax.text(c, r, f"{rate:.2f}", ha="center", va="center", fontsize=7, color="white" if rate > 0.5 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


FIGURE_FORMATS = ("png", "svg", "pdf")


def save_figure(fig, path, dpi=200):
    """Write `fig` for a slide: opaque white background, cropped to its content, at `dpi`, in
    the format its suffix names (.png, .svg or .pdf). The file appears whole or not at all
    (`helpers.runtime.atomic_files`). Returns the path."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise ValueError(
            f"Cannot save a figure as {path.name!r}: name it .png, .svg or .pdf (the suffix chooses the format)."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    alpha = fig.patch.get_alpha()
    fig.patch.set_alpha(1.0)  # a figure made see-through (set_alpha) would stay so under facecolor="white"
    try:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format=suffix, dpi=dpi, bbox_inches="tight", facecolor="white", transparent=False)
    finally:
        fig.patch.set_alpha(alpha)
    return path
