"""The set-up and settings cells, the same in every notebook and rendered by scripts/sync_setup_cell.py."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import helpers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
sys.path.insert(0, str(ROOT / "scripts"))
import sync_setup_cell  # noqa: E402


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_cells_are_the_rendered_ones(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    stale = sync_setup_cell.out_of_sync(notebook)
    assert not stale, f"{path.name}: the {' and '.join(stale)} cell differs; run python scripts/sync_setup_cell.py"
    found = sync_setup_cell.find_cells(notebook)
    assert found["set-up"] < found["settings"]


def test_there_are_notebooks_to_check():
    assert len(NOTEBOOKS) == 8


def test_install_source_is_the_release_of_this_version():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^name = "{helpers.PROJECT}"$', pyproject, re.MULTILINE)
    assert re.search(rf'^version = "{re.escape(helpers.__version__)}"$', pyproject, re.MULTILINE)
    assert helpers.INSTALL_SOURCE.startswith("git+https://github.com/")
    assert helpers.INSTALL_SOURCE.endswith(f"@v{helpers.__version__}")
    assert helpers.INSTALL_SOURCE in sync_setup_cell.rendered_cells()["set-up"]


def test_citation_names_this_version_its_repository_and_the_paper():
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf'^version: {re.escape(helpers.__version__)}$', citation, re.MULTILINE)
    repository = helpers.INSTALL_SOURCE.removeprefix("git+").rsplit("@", 1)[0]
    assert f'repository-code: "{repository}"' in citation
    assert "arXiv:2104.05704" in citation and "Escaping the Big Data Paradigm" in citation
    assert "license: MIT" in citation and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_sync_rewrites_only_the_two_cells(tmp_path):
    original = NOTEBOOKS[0].read_text(encoding="utf-8")
    notebook = json.loads(original)
    found = sync_setup_cell.find_cells(notebook)
    notebook["cells"][found["set-up"]]["source"] = ["print('old set-up')\n"]
    notebook["cells"][found["settings"]]["source"] = ["settings = notebook_settings()  # old\n"]
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert sync_setup_cell.sync(path, check=True) == ["set-up", "settings"]
    assert sync_setup_cell.sync(path) == ["set-up", "settings"]
    assert path.read_text(encoding="utf-8") == original  # outputs, metadata and formatting as they were
    assert sync_setup_cell.sync(path) == []


def run_setup_cell(folder, stop_before_prepare=True):
    """Run the rendered set-up cell in a fresh Python in `folder`, with IPython's `%pip` turned
    into a call that is only printed. Returns the completed process."""
    from IPython.core.inputtransformer2 import TransformerManager

    source = sync_setup_cell.rendered_cells()["set-up"]
    if stop_before_prepare:
        source = source[: source.index("from helpers.runtime.device import prepare")]
    source = TransformerManager().transform_cell(source)
    stub = textwrap.dedent("""\
        class _Shell:
            def run_line_magic(self, name, line):
                print("MAGIC", name, line)
        get_ipython = _Shell
    """)
    program = stub + source + "print('IMPORTED', helpers.__file__)\n"
    return subprocess.run([sys.executable, "-c", program], cwd=folder, capture_output=True, text=True, timeout=120)


def test_setup_cell_in_a_local_checkout_imports_this_package():
    result = run_setup_cell(ROOT / "notebooks")
    assert result.returncode == 0, result.stderr
    assert "MAGIC" not in result.stdout
    assert f"IMPORTED {ROOT / 'helpers' / '__init__.py'}" in result.stdout


def test_setup_cell_elsewhere_installs_the_pinned_release(tmp_path):
    result = run_setup_cell(tmp_path)
    if "MAGIC" not in result.stdout:
        pytest.skip(f"{helpers.PROJECT} is installed in this environment: nothing to install")
    assert f'MAGIC pip install -q "{helpers.INSTALL_SOURCE}"' in result.stdout


def test_setup_cell_names_a_helpers_file_that_hides_the_package(tmp_path):
    (tmp_path / "helpers.py").write_text("def my_function():\n    pass\n")
    result = run_setup_cell(tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and str(tmp_path / "helpers.py") in result.stderr
    assert "rename" in result.stderr
