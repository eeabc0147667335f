from types import SimpleNamespace

import pytest

from helpers.notebook import describe_run, load_run, notebook_settings, run_budget, runs_dir, save_run, smoke_mode

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
    assert load_run("vit_lite", folder=tmp_path) is None
    assert "02_vit_lite.ipynb" in capsys.readouterr().out


def test_smoke_runs_live_apart_from_real_runs(monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", "1")
    assert runs_dir().parts[-2:] == ("runs", "smoke")
    monkeypatch.setenv("CCT_SMOKE", "0")
    assert runs_dir().parts[-2:] == ("runs", "notebooks")


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
    monkeypatch.setenv("CCT_SMOKE", "0")
    cpu = notebook_settings()
    assert "smoke mode: off" in capsys.readouterr().out
    assert cpu.profile == "cpu" and cpu.models["cct"] == "cct_2_3x2" and cpu.recipe == "short"
    assert cpu.precision in ("float32", "mixed_bfloat16") and f"precision: {cpu.precision}" in cpu.describe()


