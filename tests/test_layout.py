"""The lesson on top: what a student reads stays small, and the machinery stays out of its way.

The numbers are the targets the package is held to (the README's "The helpers package"):
building a model loads at most 1,500 lines of `helpers` and none of its machinery but the
model class and the input checks; no import cycle; no function over 60 lines; the top-level
modules at most 2,500 lines together; every subpackage installed by `pip install .`.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "helpers"
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


def modules():
    """{module name: path} of every module of the package."""
    found = {}
    for path in HELPERS.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def lines(path):
    return len(path.read_text().splitlines())


def imports(name, path, known):
    """The package's modules that `name` imports, anywhere in its code (lazy imports count)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {module for module in found if module in known and module != name and not name.startswith(module + ".")}


def test_building_a_model_loads_the_lesson_and_little_else():
    code = (
        "import sys; from helpers.models import create_model; create_model('cct_2_3x2'); "
        "print(' '.join(sorted(m for m in sys.modules if m == 'helpers' or m.startswith('helpers.'))))"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout.split()
    known = modules()
    assert "helpers.models" in loaded and "helpers.layers.tokenizers" in loaded
    machinery = [name for name in loaded if name.startswith(NOT_FOR_BUILDING)]
    assert not machinery, f"building a model loads machinery: {machinery}"
    total = sum(lines(known[name]) for name in loaded if name in known)
    assert total <= 1500, f"building a model loads {total} lines of helpers"


def test_no_import_cycle():
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}

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
