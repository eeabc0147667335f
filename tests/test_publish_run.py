import csv
import importlib.util
import json
from pathlib import Path

import pytest

from helpers.runtime.run_folder import TEMPORARY_PREFIX

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def publish_run(tmp_path, monkeypatch):
    """scripts/publish_run.py, imported (scripts/ is no package), publishing into tmp_path/results."""
    spec = importlib.util.spec_from_file_location("publish_run", ROOT / "scripts" / "publish_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def finished_run(folder, accuracy):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": "cct_2_3x2", "recipe": "fast"}))
    (folder / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy\n0,2.0,0.3,1.9,0.35\n1,1.5,0.5,1.4,0.52\n")
    results = {
        "model": "cct_2_3x2", "parameters": 283723, "recipe": "fast", "epochs": 2, "train_images": 100,
        "test_images": 50, "test_accuracy": accuracy, "device": "CPU", "precision": "float32",
        "wall_time_s_this_session": 12.5, "epochs_this_session": 2,
    }
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def test_publishes_records_figure_and_one_row_per_run(tmp_path, publish_run):
    run = finished_run(tmp_path / "runs" / "cct_try", accuracy=0.5)
    publish_run.main([str(run), "--data", "offline JPEG copy"])
    out = tmp_path / "results" / "cct_try"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "curves.png", "history.csv", "results.json"]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Published again after a change: the row is replaced, not added, and no temporary file stays behind.
    (run / "results.json").write_text(json.dumps({**json.loads((run / "results.json").read_text()), "test_accuracy": 0.6}))
    publish_run.main([str(run), "--data", "offline JPEG copy"])
    rows = list(csv.DictReader(open(tmp_path / "results" / "results.csv", newline="")))
    assert [(row["run"], row["test_accuracy"], row["wall_time_s"]) for row in rows] == [("cct_try", "0.6", "12.5")]
    leftovers = [p for p in (tmp_path / "results").rglob("*") if p.name.startswith(TEMPORARY_PREFIX)]
    assert leftovers == []


def test_refuses_an_unfinished_run(tmp_path, publish_run):
    (tmp_path / "half").mkdir()
    with pytest.raises(SystemExit, match="no finished run"):
        publish_run.main([str(tmp_path / "half"), "--data", "offline JPEG copy"])
