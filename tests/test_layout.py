"""The lesson on top: what a student reads stays small, and the machinery stays out of its way.

The numbers are the targets the package is held to (docs/package.md):
building a model loads at most 1,500 lines of `helpers` and none of its machinery but the
model class and the input checks; no import cycle; no function over 60 lines; the top-level
modules at most 2,500 lines together; every subpackage installed by `pip install .`.
"""

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "helpers"
sys.path.insert(0, str(ROOT / "scripts"))
from package_map import built_model_modules, import_graph, lines, modules  # noqa: E402

# The machinery that building a model must not load: augmentation, input pipelines, run
# folders, devices and strategies, figures, experiments.
NOT_FOR_BUILDING = (
    "helpers.pipeline",
    "helpers.runtime.device",
    "helpers.runtime.run_folder",
    "helpers.runtime.atomic_files",
    "helpers.runtime.loop",
    "helpers.runtime.budget",
    "helpers.figures",
    "helpers.experiments",
)


def test_building_a_model_loads_the_lesson_and_little_else():
    loaded = built_model_modules()
    known = modules()
    assert "helpers.models" in loaded and "helpers.layers.tokenizers" in loaded
    machinery = [name for name in loaded if name.startswith(NOT_FOR_BUILDING)]
    assert not machinery, f"building a model loads machinery: {machinery}"
    total = sum(lines(known[name]) for name in loaded if name in known)
    assert total <= 1500, f"building a model loads {total} lines of helpers"


def test_no_import_cycle():
    graph = import_graph(modules())

    def reaches(start, goal, seen):
        return any(step == goal or (step not in seen and reaches(step, goal, seen | {step})) for step in graph[start])

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_no_function_over_60_lines():
    long = []
    for path in HELPERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long.append(f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long, long


def test_the_top_level_modules_stay_readable_in_an_evening():
    total = sum(lines(path) for path in HELPERS.glob("*.py"))
    assert total <= 2500, f"helpers/*.py holds {total} lines"


def test_pip_install_lists_every_subpackage():
    pyproject = (ROOT / "pyproject.toml").read_text()
    listed = set(re.search(r"^packages = \[(.*)\]$", pyproject, re.MULTILINE).group(1).replace('"', "").split(", "))
    packages = {".".join(path.parent.relative_to(ROOT).parts) for path in HELPERS.rglob("__init__.py")}
    assert listed == packages


def test_the_package_docstring_names_every_top_level_module_and_subpackage():
    import helpers

    names = {path.name for path in HELPERS.glob("*.py") if path.name != "__init__.py"}
    names |= {f"{path.parent.name}/" for path in HELPERS.glob("*/__init__.py")}
    missing = sorted(name for name in names if name not in helpers.__doc__)
    assert not missing, f"helpers/__init__.py's docstring does not name {missing}"


def test_the_readme_is_a_first_screen_and_no_notebook_holds_more_than_3000_words_of_prose():
    """Words as ../shared/tools/measure_lesson.py counts them: whitespace-separated, tables included."""
    import json

    assert len((ROOT / "README.md").read_text().split()) <= 2000
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        words = sum(len("".join(cell["source"]).split()) for cell in cells if cell["cell_type"] == "markdown")
        assert words <= 3000, f"{path.name}: {words} words of markdown"
