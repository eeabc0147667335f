"""Write the set-up cell, and the run-settings cell after it, into every notebook.

    python scripts/sync_setup_cell.py           # rewrite the cells that differ
    python scripts/sync_setup_cell.py --check   # only list them (exit status 1 if any)

Both cells are the same in every notebook. The set-up cell is rendered from SETUP_CELL with
`helpers.PROJECT` (the distribution's name) and `helpers.INSTALL_SOURCE` (what Colab installs:
the repository's address and release), so changing those constants in helpers/__init__.py and
running this script updates all the notebooks. Only the two cells' sources change: outputs,
metadata and every other cell stay as they are, and the JSON keeps the notebooks' formatting.
The set-up cell is a notebook's first code cell, the settings cell the first one that calls
notebook_settings(); tests/test_notebook_cells.py fails when one differs from its rendering.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

SETUP_CELL = '''\
# Set-up (the same in every notebook): make `helpers` importable, then pick the Keras backend.
import importlib.metadata, sys
from pathlib import Path

if Path("../helpers/__init__.py").is_file():  # a local checkout: notebooks/ sits beside helpers/
    sys.path.insert(0, str(Path("..").resolve()))
else:
    try:
        installed = importlib.metadata.version("{project}")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != "{version}":  # Colab: install the release these notebooks belong to
        %pip install -q "{install_source}"
import helpers

if getattr(helpers, "PROJECT", None) != "{project}":  # e.g. a helpers.py of your own
    raise ImportError(
        f"`import helpers` found {{helpers.__file__ or list(helpers.__path__)[0]}}, which is not this series' "
        "package: rename that file or folder, restart the runtime (or kernel) and run this cell again."
    )
from helpers.runtime.device import prepare

prepare()  # JAX on a TPU runtime, otherwise TensorFlow'''

SETTINGS_CELL = '''\
import os

# Colab: to keep your runs on Google Drive, uncomment these three lines before running this cell.
# from google.colab import drive
# drive.mount("/content/drive")
# os.environ["CCT_RUNS_DIR"] = "/content/drive/MyDrive/compact-transformers/runs"
from helpers.notebook import notebook_settings

settings = notebook_settings()'''


def rendered_cells():
    """{"set-up": source, "settings": source}, rendered from helpers' constants."""
    sys.path.insert(0, str(ROOT))
    import helpers

    setup = SETUP_CELL.format(project=helpers.PROJECT, version=helpers.__version__, install_source=helpers.INSTALL_SOURCE)
    return {"set-up": setup, "settings": SETTINGS_CELL}


def find_cells(notebook):
    """{"set-up": index, "settings": index} of a notebook's two synced cells (None if absent)."""
    code = [index for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]
    settings = [index for index in code if "notebook_settings()" in "".join(notebook["cells"][index]["source"])]
    return {"set-up": code[0] if code else None, "settings": settings[0] if settings else None}


def source(cell):
    return "".join(cell["source"])


def out_of_sync(notebook, cells=None):
    """The names of the synced cells whose source differs from the rendered one."""
    cells = cells or rendered_cells()
    found = find_cells(notebook)
    return [name for name, text in cells.items() if found[name] is None or source(notebook["cells"][found[name]]) != text]


def sync(path, cells=None, check=False):
    """Bring one notebook's synced cells up to date; returns the names of those that differed."""
    cells = cells or rendered_cells()
    notebook = json.loads(path.read_text(encoding="utf-8"))
    stale = out_of_sync(notebook, cells)
    if stale and not check:
        found = find_cells(notebook)
        if None in found.values():
            raise SystemExit(f"{path.name}: no {', '.join(n for n, i in found.items() if i is None)} cell to write into.")
        if found["set-up"] == found["settings"]:
            raise SystemExit(f"{path.name}: its first code cell calls notebook_settings(); split the set-up cell off first.")
        for name in stale:
            notebook["cells"][found[name]]["source"] = cells[name].splitlines(keepends=True)
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return stale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only list the notebooks whose cells differ")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebooks/*.ipynb")
    args = parser.parse_args(argv)
    cells = rendered_cells()
    differing = 0
    for path in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
        stale = sync(path, cells, check=args.check)
        if stale:
            differing += 1
            print(f"{path.name}: {' and '.join(stale)} cell {'differs' if args.check else 'rewritten'}")
    if args.check and differing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
