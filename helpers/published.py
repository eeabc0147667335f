"""The published numbers this series compares with: one table, each row with its epochs and
source, so that every comparison can say how long both sides trained.

    published_result("cct_7_3x1", epochs=300)          # one row
    published_results(epochs=200)                      # every 200-epoch CIFAR-10 row
    print(markdown_table(published_results()))         # the table docs/results.md shows

Every accuracy is quoted from the official repository (SHI-Labs/Compact-Transformers, read at
commit cd11f09), whose tables state their epochs. Its two tables differ in budget: the README's
CCT-7/3x1 rows ran 300 to 5000 epochs with the timm recipe, the legacy table of
`examples/README.md` ran 200 epochs (500 for one row) with an older script. Compare rows of the
same epochs only (`comparable`). `python -m helpers.published` prints the table.
"""

from dataclasses import dataclass

SOURCES = {
    "repo-readme": "official repo, README.md (timm recipe)",
    "repo-legacy": "official repo, examples/README.md (legacy script)",
    "he2016": "He et al. 2016, Deep Residual Learning for Image Recognition, section 4.2 and Table 6",
}

DATASETS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


@dataclass(frozen=True)
class PublishedResult:
    model: str  # our variant name (helpers.models)
    dataset: str  # a key of DATASETS
    top1: float  # test top-1 accuracy, percent
    epochs: int
    positional_embedding: str  # as the source states it, or the legacy script's default; None for a CNN
    source: str  # a key of SOURCES
    params_m: float = None  # millions, as the source counts them
    macs_g: float = None  # GMACs without the attention products QK^T and AV, as the source counts
    note: str = ""

    @property
    def display_name(self):
        return display_name(self.model)

    def describe(self):
        """One line: model, top-1, data set, epochs, position embedding and source."""
        note = f"; {self.note}" if self.note else ""
        embedding = f"{self.positional_embedding} position embedding; " if self.positional_embedding else ""
        return (
            f"{self.display_name}: {self.top1:.2f}% on {DATASETS[self.dataset]} after {self.epochs} epochs "
            f"({embedding}{SOURCES[self.source]}{note})"
        )


_LEGACY_PE = "learnable"  # the legacy script's default (--positional-embedding learnable)
_SINE_NOTE = (
    "the README calls this position embedding sinusoidal, but the repository's cct_7_3x1 "
    "factory has dropped that argument since v1.1 and builds a learnable one"
)

PUBLISHED_RESULTS = (
    # The official README: CCT-7/3x1 with the timm recipe of configs/pretrained/.
    PublishedResult("cct_7_3x1", "cifar10", 96.53, 300, "learnable", "repo-readme"),
    PublishedResult("cct_7_3x1", "cifar10", 97.48, 1500, "sinusoidal", "repo-readme", note=_SINE_NOTE),
    PublishedResult("cct_7_3x1", "cifar10", 98.00, 5000, "sinusoidal", "repo-readme", note=_SINE_NOTE),
    PublishedResult("cct_7_3x1", "cifar100", 80.92, 300, "learnable", "repo-readme"),
    PublishedResult("cct_7_3x1", "cifar100", 82.72, 1500, "sinusoidal", "repo-readme", note=_SINE_NOTE),
    PublishedResult("cct_7_3x1", "cifar100", 82.87, 5000, "sinusoidal", "repo-readme", note=_SINE_NOTE),
)
# The legacy table: (model, CIFAR-10, CIFAR-100, params M, GMACs, epochs).
_LEGACY_ROWS = (
    ("vit_lite_7_4", 91.38, 69.75, 3.717, 0.239, 200),
    ("vit_lite_6_4", 90.94, 69.20, 3.191, 0.205, 200),
    ("cvt_7_4", 92.43, 73.01, 3.717, 0.236, 200),
    ("cvt_6_4", 92.58, 72.25, 3.190, 0.202, 200),
    ("cct_2_3x2", 89.17, 66.90, 0.284, 0.033, 200),
    ("cct_4_3x2", 91.45, 70.46, 0.482, 0.046, 200),
    ("cct_6_3x2", 93.56, 74.47, 3.327, 0.241, 200),
    ("cct_7_3x2", 93.83, 74.92, 3.853, 0.275, 200),
    ("cct_7_3x1", 94.78, 77.05, 3.760, 0.947, 200),
    ("cct_6_3x1", 94.81, 76.71, 3.168, 0.813, 200),
    ("cct_6_3x1", 95.29, 77.31, 3.168, 0.813, 500),
)
PUBLISHED_RESULTS += tuple(
    PublishedResult(model, dataset, top1, epochs, _LEGACY_PE, "repo-legacy", params, macs)
    for model, cifar10, cifar100, params, macs, epochs in _LEGACY_ROWS
    for dataset, top1 in (("cifar10", cifar10), ("cifar100", cifar100))
)

# CNNs the notebooks quote beside CCT, from their own papers; not rows of the CCT tables above.
BASELINE_RESULTS = (
    PublishedResult(
        "resnet20", "cifar10", 100 - 8.75, 164, None, "he2016", params_m=0.27,
        note="SGD with momentum 0.9 at learning rate 0.1, divided by 10 at 32k and 48k steps, 64k steps at "
        "batch 128 (about 164 epochs of 50,000 images); test error 8.75%",
    ),
)


def baseline_result(model, dataset="cifar10"):
    """The published result of a CNN baseline (BASELINE_RESULTS)."""
    for row in BASELINE_RESULTS:
        if (row.model, row.dataset) == (model, dataset):
            return row
    known = ", ".join(sorted({row.model for row in BASELINE_RESULTS}))
    raise ValueError(f"No published {DATASETS.get(dataset, dataset)} baseline for {model!r}; there are: {known}.")


def display_name(model):
    """The paper's spelling of a variant name: cct_7_3x1 -> CCT-7/3x1, vit_lite_7_4 -> ViT-Lite-7/4,
    resnet20 -> ResNet-20."""
    if model.startswith("resnet"):
        return f"ResNet-{model.removeprefix('resnet')}"
    if model.startswith("vit_lite_"):
        layers, patch = model.removeprefix("vit_lite_").split("_")
        return f"ViT-Lite-{layers}/{patch}"
    family, layers, tokenizer = model.split("_")
    return f"{family.upper()}-{layers}/{tokenizer}"


def published_results(model=None, dataset="cifar10", epochs=None):
    """The rows for `dataset`, optionally only those of one model and/or one budget."""
    if dataset not in DATASETS:
        raise ValueError(f"Unknown data set {dataset!r}: choose one of {', '.join(DATASETS)}.")
    rows = [row for row in PUBLISHED_RESULTS if row.dataset == dataset]
    if model is not None:
        rows = [row for row in rows if row.model == model]
    if epochs is not None:
        rows = [row for row in rows if row.epochs == epochs]
    return rows


def published_result(model, epochs, dataset="cifar10"):
    """The one row of `model` at `epochs` epochs; a ValueError lists the budgets there are."""
    rows = published_results(model, dataset, epochs)
    if len(rows) == 1:
        return rows[0]
    budgets = sorted({row.epochs for row in published_results(model, dataset)})
    raise ValueError(
        f"No published {DATASETS[dataset]} result for {model!r} at {epochs} epochs; "
        f"there are: {', '.join(map(str, budgets)) or 'none'} epochs."
    )


def published_parameters(model):
    """The parameter count (millions) the official tables give for `model`, or None."""
    counts = {row.params_m for row in PUBLISHED_RESULTS if row.model == model and row.params_m}
    return counts.pop() if counts else None


def comparable(a, b):
    """Two results compare like for like only at the same epochs on the same data set."""
    return a.epochs == b.epochs and a.dataset == b.dataset


def markdown_table(rows):
    """A Markdown table of rows, each with its epochs and source."""
    lines = [
        "| model | data set | epochs | position embedding | top-1 | params | GMACs | source |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for row in rows:
        params = f"{row.params_m:.3f}M" if row.params_m else "–"
        macs = f"{row.macs_g:.3f}" if row.macs_g else "–"
        lines.append(
            f"| {row.display_name} | {DATASETS[row.dataset]} | {row.epochs} | {row.positional_embedding} | "
            f"{row.top1:.2f}% | {params} | {macs} | {SOURCES[row.source]} |"
        )
    return "\n".join(lines)


class PublishedTable:
    """Rows of PUBLISHED_RESULTS that show as a table: rendered in a notebook, plain Markdown in print."""

    def __init__(self, rows):
        rows = list(rows)
        if not rows:
            raise ValueError("No published result matches: see helpers.published.PUBLISHED_RESULTS for the rows there are.")
        self.rows = rows

    def _repr_markdown_(self):
        return markdown_table(self.rows)

    def __repr__(self):
        return markdown_table(self.rows)


def published_table(models=None, dataset="cifar10", epochs=None):
    """The published rows for `models` (all if None), as a table a notebook displays."""
    return PublishedTable(row for row in published_results(dataset=dataset, epochs=epochs) if models is None or row.model in models)


if __name__ == "__main__":
    print(markdown_table(published_results()))
