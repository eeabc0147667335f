"""Draw the map of the `helpers` package and print how much of it each notebook reaches.

    python scripts/package_map.py                  # writes docs/package.png, prints the table
    python scripts/package_map.py --out map.svg

The picture: the lesson at the top (the layers, the builder and its variants, the data, the
recipes, the published numbers, the analyses), the two entry points the notebooks call, and the
machinery below in its four subpackages; every module with its lines, and a blue edge on the
modules that building a model loads (`create_model("cct_2_3x2")`, measured in a fresh process).

The table: for each notebook, the modules its imports reach (following every import inside
`helpers`, lazy ones too) and their lines, split into the top level (lesson and entry points)
and the subpackages (machinery).
"""

import argparse
import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.figures.plotting import save_figure  # noqa: E402

LESSON = ("layers", "models", "data", "recipes", "published", "attention_maps", "tokenizer_shifts")
ENTRY_POINTS = ("train", "notebook")
MACHINERY = ("runtime", "pipeline", "figures", "experiments")
BLUE, GREY = "#1f4e79", "#555555"


def modules():
    """{module name: path} of every module of `helpers`."""
    found = {}
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def lines(path):
    return len(path.read_text().splitlines())


def imported(source, package, known):
    """The modules of `known` that `source` imports (a module imports its parent packages too)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    parts = (name.split(".") for name in names)
    return {".".join(p[:i]) for p in parts for i in range(1, len(p) + 1) if ".".join(p[:i]) in known}


def import_graph(known):
    """{module: the modules it imports}, leaving out its own parent packages (loaded before it anyway)."""
    graph = {}
    for name, path in known.items():
        found = imported(path.read_text(), name if path.name == "__init__.py" else name.rpartition(".")[0], known)
        graph[name] = {other for other in found if other != name and not name.startswith(other + ".")}
    return graph


def reached(roots, graph):
    seen, stack = set(), list(roots)
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph[name])
    return seen


def notebook_imports(path, known):
    """The `helpers` modules a notebook's code cells import (shell and magic lines skipped)."""
    roots = set()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        code = "\n".join(
            line[: len(line) - len(line.lstrip())] + "pass" if line.strip().startswith(("%", "!")) else line
            for line in "".join(cell["source"]).splitlines()
        )
        roots |= imported(code, "", known)
    return roots


def built_model_modules():
    code = (
        "import sys; from helpers.models import create_model; create_model('cct_2_3x2'); "
        "print(' '.join(m for m in sys.modules if m == 'helpers' or m.startswith('helpers.')))"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def is_machinery(name):
    return name.split(".")[1:2] and name.split(".")[1] in MACHINERY


def reach_table(known, graph):
    rows = ["| notebook | modules | lines | top level (lesson, entry points) | subpackages (machinery) |", "|---|---:|---:|---:|---:|"]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        reach = reached(notebook_imports(path, known), graph)
        machinery = sum(lines(known[name]) for name in reach if is_machinery(name))
        total = sum(lines(known[name]) for name in reach)
        rows.append(f"| {path.stem} | {len(reach)} | {total:,} | {total - machinery:,} | {machinery:,} |")
    return "\n".join(rows)


def _module_box(ax, x, y, width, label, count, loaded):
    ax.add_patch(FancyBboxPatch((x, y), width, 0.42, boxstyle="round,pad=0,rounding_size=0.06", facecolor="white",
                                edgecolor=BLUE if loaded else "#999999", linewidth=2.2 if loaded else 0.8))
    ax.text(x + 0.08, y + 0.21, label, va="center", fontsize=8.5)
    ax.text(x + width - 0.08, y + 0.21, f"{count}", va="center", ha="right", fontsize=8.5, color=GREY)


def _panel(ax, x, y, width, height, title, color):
    ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0,rounding_size=0.12", facecolor=color,
                                edgecolor="#777777", linewidth=1.0))
    ax.text(x + 0.12, y + height - 0.22, title, va="center", fontsize=10, fontweight="bold")


def _panel_of_modules(ax, x, top, width, title, color, entries, loaded):
    """A panel headed `title` holding one box per (label, lines, module name) entry; returns its bottom."""
    height = 0.55 + 0.5 * len(entries)
    _panel(ax, x, top - height, width, height, title, color)
    for i, (label, count, name) in enumerate(entries):
        _module_box(ax, x + 0.12, top - 0.95 - 0.5 * i, width - 0.24, label, count, name in loaded)
    return top - height


def draw(known, loaded):
    def entry(name):
        short = name.split(".")[-1]
        label = "__init__.py: the map" if name == "helpers" else f"{short}.py"
        return label, lines(known[name]), name

    def panel_height(count):
        return 0.55 + 0.5 * count

    layers = [entry(name) for name in known if name.startswith("helpers.layers.")]
    lesson = [entry(f"helpers.{name}") for name in LESSON if name != "layers"]
    entries = [entry(f"helpers.{name}") for name in ENTRY_POINTS] + [entry("helpers")]
    machinery = {package: [entry(name) for name in known if name.startswith(f"helpers.{package}.")] for package in MACHINERY}
    upper = panel_height(max(len(layers), len(lesson), len(entries)))
    lower = panel_height(max(len(members) for members in machinery.values()))
    width, height = 13.5, 0.8 + upper + 0.45 + lower + 0.3
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    top = height - 0.7
    top_lines = sum(lines(path) for path in (ROOT / "helpers").glob("*.py"))
    ax.text(0.3, height - 0.35, f"helpers/: the lesson on top ({top_lines:,} lines in helpers/*.py), the machinery below",
            fontsize=12, fontweight="bold", va="center")
    _panel_of_modules(ax, 0.3, top, 3.2, "helpers/layers/: the lesson's layers", "#d6e6f5", layers, loaded)
    _panel_of_modules(ax, 3.7, top, 3.2, "helpers/*.py: the lesson", "#d6e6f5", lesson, loaded)
    _panel_of_modules(ax, 7.1, top, 2.9, "entry points of the notebooks", "#fbe5cc", entries, loaded)
    for x, (package, members) in zip((0.3, 3.55, 6.8, 10.05), machinery.items()):
        _panel_of_modules(ax, x, top - upper - 0.45, 3.1, f"helpers/{package}/: machinery", "#ececec", members, loaded)
    total = sum(lines(known[name]) for name in loaded if name in known)
    ax.plot([10.3, 10.6], [top - 0.45, top - 0.45], color=BLUE, lw=2.2)
    ax.text(10.7, top - 0.45, f"loaded by create_model(\"cct_2_3x2\"):\n{len(loaded & set(known))} modules, {total:,} lines",
            va="center", fontsize=8.5)
    ax.text(10.3, top - 1.05, "numbers: lines of each module", va="center", fontsize=8.5, color=GREY)
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "package.png")
    args = parser.parse_args(argv)
    known = modules()
    print(reach_table(known, import_graph(known)))
    save_figure(draw(known, built_model_modules()), args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
