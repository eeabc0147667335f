from types import SimpleNamespace

import numpy as np
import pytest

from helpers.notebook import (
    budget_note,
    describe_run,
    load_run,
    notebook_settings,
    run_budget,
    runs_dir,
    save_run,
    smoke_mode,
)

RESULTS = {"model": "cct_2_3x2", "test_accuracy": 0.5, "recipe": "short", "epochs": 4, "train_images": 50000}


def make_run(accuracy):
    return SimpleNamespace(results={**RESULTS, "test_accuracy": accuracy}, history={"loss": [2.0, 1.0]})


def test_save_and_load_a_run(tmp_path):
    save_run(make_run(0.5), "cct", SimpleNamespace(smoke=False, profile="cpu"), folder=tmp_path)
    record = load_run("cct", folder=tmp_path)
    assert record["model"] == "cct_2_3x2" and record["history"]["loss"] == [2.0, 1.0]
    assert record["results"]["profile"] == "cpu"
    assert run_budget(record["results"]) == ("short", 4, 50000)
    assert "50.00%" in describe_run(record["results"]) and "smoke" not in describe_run(record["results"])


def test_smoke_run_does_not_replace_a_real_run(tmp_path, capsys):
    save_run(make_run(0.7), "cvt", SimpleNamespace(smoke=False, profile="cpu"), folder=tmp_path)
    save_run(make_run(0.1), "cvt", SimpleNamespace(smoke=True, profile="smoke"), folder=tmp_path)
    assert load_run("cvt", folder=tmp_path)["results"]["test_accuracy"] == 0.7
    assert "kept" in capsys.readouterr().out


def test_missing_run_names_the_notebook(tmp_path, capsys):
    assert load_run("vit_lite", folder=tmp_path, shipped=False) is None
    assert "02_vit_lite.ipynb" in capsys.readouterr().out


def test_smoke_runs_live_apart_from_real_runs(monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", "1")
    assert runs_dir().parts[-2:] == ("runs", "smoke")
    monkeypatch.setenv("CCT_SMOKE", "0")
    assert runs_dir().parts[-2:] == ("runs", "notebooks")


def test_smoke_notebooks_write_only_under_runs_smoke(monkeypatch, tmp_path):
    # What a notebook's cells write to: the run folder of settings.training(family) and save_run's file.
    monkeypatch.delenv("CCT_RUNS_DIR", raising=False)
    monkeypatch.setenv("CCT_SMOKE", "1")
    smoke = notebook_settings(verbose=False)
    assert "out" not in smoke.training("cct")  # a smoke run keeps no run folder
    monkeypatch.chdir(tmp_path)
    save_run(make_run(0.1), "cct", smoke)
    assert [str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file()] == ["runs/smoke/cct.json"]
    monkeypatch.setenv("CCT_SMOKE", "0")
    assert notebook_settings(verbose=False).training("cct")["out"] == runs_dir() / "cct-cpu"
    assert runs_dir().parts[-2:] == ("runs", "notebooks")


def test_runs_dir_follows_cct_runs_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CCT_RUNS_DIR", str(tmp_path / "drive"))
    monkeypatch.setenv("CCT_SMOKE", "0")
    assert runs_dir() == tmp_path / "drive"
    monkeypatch.setenv("CCT_SMOKE", "1")
    assert runs_dir() == tmp_path / "drive" / "smoke"


def test_missing_run_falls_back_to_the_shipped_run(tmp_path, capsys):
    record = load_run("cvt", folder=tmp_path)
    assert record["results"]["shipped"] and record["model"] == "cvt_2_4"
    assert "shipped with the package" in capsys.readouterr().out


def test_budget_note_says_what_differs():
    cpu = dict(RESULTS, device="CPU", minutes=15.0)
    assert budget_note([cpu, dict(cpu, model="cvt_2_4")]).startswith("same budget: short recipe, 4 epoch(s)")
    same_time = budget_note([cpu, dict(cpu, model="vit_lite_2_4", epochs=7)])
    assert "same 15-minute budget" in same_time and "cct_2_3x2 4, vit_lite_2_4 7" in same_time
    shipped = dict(cpu, model="vit_lite_2_4", epochs=5, minutes=None, shipped="the CPU run")
    note = budget_note([shipped, cpu])
    assert "different budgets (epochs, time budget)" in note and "vit_lite_2_4: the run shipped" in note
    smoke = dict(cpu, train_images=256, minutes=None, profile="smoke")
    assert "training images" in budget_note([smoke, cpu])


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_smoke_mode_reads_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CCT_SMOKE", value)
    assert smoke_mode() is expected


def test_notebook_settings_profiles(monkeypatch, capsys):
    monkeypatch.setenv("CCT_SMOKE", "1")
    smoke = notebook_settings()
    assert "smoke mode: on" in capsys.readouterr().out
    assert smoke.profile == "smoke" and smoke.epochs == 1
    (x_train, _), (x_test, _) = smoke.load_data()
    assert len(x_train) == 256 and len(x_test) == 128
    (x_fit, _), (x_val, _), (x_test_again, _) = smoke.load_splits()
    assert (len(x_fit), len(x_val)) == (192, 64) and np.array_equal(x_val, x_train[192:])
    assert np.array_equal(x_test_again, x_test)
    monkeypatch.setenv("CCT_SMOKE", "0")
    cpu = notebook_settings()
    assert "smoke mode: off" in capsys.readouterr().out
    assert cpu.profile == "cpu" and cpu.models["cct"] == "cct_2_3x2" and cpu.recipe == "auto"
    assert cpu.precision in ("float32", "mixed_bfloat16") and f"precision: {cpu.precision}" in cpu.describe()




def test_a_run_the_budget_stopped_early_counts_the_epochs_it_trained():
    """CVT planned 9 epochs in 15 minutes and the deadline stopped it after 8: beside a ViT-Lite of 9,
    that is not the same budget."""
    planned = dict(RESULTS, device="CPU", minutes=15.0, recipe="fast", epochs=9, epochs_completed=9)
    stopped = dict(planned, model="cvt_2_4", epochs_completed=8)
    assert run_budget(stopped) == ("fast", 8, 50000)
    assert "8 of 9 planned epoch(s), stopped by the budget" in describe_run(stopped)
    assert "(fast recipe, 9 epoch(s), 15-minute budget" in describe_run(planned)
    assert "so different epochs (cct_2_3x2 9, cvt_2_4 8)" in budget_note([planned, stopped])
