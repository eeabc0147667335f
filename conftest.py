import os
from pathlib import Path

# Notebooks executed by nbval inherit this environment: they run in smoke mode. This file sits
# at the root so that `pytest notebooks/`, and pytest started in any folder, applies it too.
os.environ.setdefault("CCT_SMOKE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest

# Tests never write where notebooks read: a smoke run of a notebook keeps to runs/smoke (see
# helpers.notebook.runs_dir) and must leave the reader's runs (runs/notebooks, or CCT_RUNS_DIR
# apart from its smoke/ folder) as they were. The last cell of each notebook checks it.
RUNS_DIR = os.environ.get("CCT_RUNS_DIR", "").strip()
READERS_RUNS = Path(RUNS_DIR).expanduser() if RUNS_DIR else Path(__file__).resolve().parent / "runs" / "notebooks"
_runs_before = {}


def _runs_snapshot():
    if not READERS_RUNS.is_dir():
        return {}
    files = (path for path in READERS_RUNS.rglob("*") if path.is_file())
    return {
        str(path.relative_to(READERS_RUNS)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in files
        if not (RUNS_DIR and path.relative_to(READERS_RUNS).parts[0] == "smoke")
    }


def pytest_runtest_setup(item):
    if item.path.suffix == ".ipynb" and item.path not in _runs_before:  # the notebook's first cell
        _runs_before[item.path] = _runs_snapshot()


def pytest_runtest_teardown(item):
    if item.path.suffix != ".ipynb" or item is not [other for other in item.session.items if other.path == item.path][-1]:
        return  # not a notebook's last cell
    before, after = _runs_before.pop(item.path, {}), _runs_snapshot()
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, (
        f"{item.path.name} in smoke mode changed {READERS_RUNS}: {', '.join(changed[:5])} "
        "(smoke runs belong in runs/smoke; or did a real run write there at the same time?)"
    )


@pytest.fixture
def images():
    """Eight random 32x32 RGB images with pixel values 0-255."""
    return np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3)).astype("float32")
