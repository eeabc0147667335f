"""Time budgets (`train(minutes=...)`, `--minutes`, CCT_MINUTES) and the batch-size rule."""

import json
import math

import keras
import pytest

from helpers.data import load_cifar10_sample
from helpers.pipeline.host import make_datasets
from helpers.models import create_model
from helpers.notebook import notebook_settings
from helpers.recipes import compile_model, get_recipe, learning_rate_schedule
from helpers.runtime.run_folder import RunFolderError
from helpers.runtime.loop import StopAtDeadline, resumable_fit
from helpers.train import main, train


@pytest.fixture(scope="module")
def sample():
    (x, y), (xt, yt) = load_cifar10_sample()
    return (x[:512], y[:512]), (xt[:128], yt[:128])


def peak_rate(batch_size):
    schedule = learning_rate_schedule(get_recipe("short", batch_size=batch_size), steps_per_epoch=100)
    return float(keras.ops.convert_to_numpy(schedule(300)))


def test_learning_rates_follow_the_square_root_of_the_global_batch():
    assert peak_rate(128) == pytest.approx(5.5e-4, rel=1e-4)
    assert peak_rate(1024) == pytest.approx(5.5e-4 * math.sqrt(8), rel=1e-4)
    assert peak_rate(32) == pytest.approx(5.5e-4 / 2, rel=1e-4)


@pytest.mark.parametrize("minutes", [0, -1, float("nan"), float("inf"), "10", True])
def test_a_budget_must_be_a_positive_number(sample, minutes):
    with pytest.raises(ValueError, match=r"minutes must be a number in \(0, 10,080\]"):
        train("cct_2_3x2", sample, minutes=minutes)


def test_epochs_and_minutes_exclude_each_other(sample):
    with pytest.raises(ValueError, match="epochs or minutes"):
        train("cct_2_3x2", sample, minutes=1, epochs=2)
    with pytest.raises(SystemExit):
        main(["--model", "cct_2_3x2", "--out", "unused", "--minutes", "1", "--epochs", "2"])


def test_a_budgeted_run_chooses_its_epochs_keeps_them_and_ends_near_its_budget(sample, tmp_path, capsys):
    minutes = 1.0  # the probe (an epoch's steps here) counts against the budget
    run = train("cct_2_3x2", sample, minutes=minutes, batch_size=64, out=tmp_path / "run")
    printed = capsys.readouterr().out
    assert "budget 1 min:" in printed and "training images/s measured" in printed
    results, config = run.results, json.loads((tmp_path / "run" / "config.json").read_text())
    assert results["minutes"] == minutes and config["minutes"] == minutes
    assert config["epochs"] == results["epochs"] >= 1
    assert results["epochs_completed"] == len(run.history["loss"]) <= results["epochs"]
    # The estimate is measured on this machine as it is loaded now; a quarter over is still "on time".
    assert results["wall_time_s_this_session"] < minutes * 60 * 1.25 + 15
    again = train("cct_2_3x2", sample, minutes=minutes, batch_size=64, out=tmp_path / "run")
    assert "already holds a finished run" in capsys.readouterr().out
    assert again.results == results
    with pytest.raises(RunFolderError, match="minutes"):
        train("cct_2_3x2", sample, minutes=2 * minutes, batch_size=64, out=tmp_path / "run")


def test_training_stops_at_the_deadline(sample, capsys):
    (x, y), (xt, yt) = sample
    train_ds, test_ds = make_datasets(x, y, xt, yt, batch_size=64)
    model = compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=3), steps_per_epoch=8)
    history = resumable_fit(model, train_ds, test_ds, 3, verbose=0, callbacks=[StopAtDeadline(deadline=0.0)])
    assert len(history.history["loss"]) == 1
    assert "past the time budget" in capsys.readouterr().out


def test_notebook_budget_comes_from_the_profile_or_cct_minutes(monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", "0")
    monkeypatch.delenv("CCT_MINUTES", raising=False)
    monkeypatch.delenv("CCT_PROFILE", raising=False)
    cpu = notebook_settings(verbose=False)
    assert cpu.profile == "cpu" and cpu.minutes == 15 and cpu.epochs is None
    assert cpu.training("cct")["minutes"] == 15 and cpu.training("cct")["out"].name == "cct-cpu"
    monkeypatch.setenv("CCT_MINUTES", "2.5")
    assert notebook_settings(verbose=False).minutes == 2.5
    assert notebook_settings(minutes=4, verbose=False).minutes == 4  # the argument wins
    monkeypatch.setenv("CCT_MINUTES", "soon")
    with pytest.raises(ValueError, match="CCT_MINUTES"):
        notebook_settings(verbose=False)
    monkeypatch.delenv("CCT_MINUTES")
    paper = notebook_settings(profile="paper", verbose=False)
    assert (paper.epochs, paper.minutes, paper.models["cct"]) == (310, None, "cct_7_3x1")
    with pytest.raises(ValueError, match="not for a budget"):
        notebook_settings(profile="paper", minutes=20, verbose=False)
    with pytest.raises(ValueError, match="profile must be one of"):
        notebook_settings(profile="gpu", verbose=False)


def test_smoke_mode_trains_one_epoch_in_batches_of_64(monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", "1")
    smoke = notebook_settings(verbose=False)
    assert (smoke.epochs, smoke.minutes, smoke.batch_size) == (1, None, 64)
    assert "out" not in smoke.training("cct")


def test_training_drops_the_last_partial_batch(sample):
    (x, y), (xt, yt) = sample
    train_ds, _ = make_datasets(x[:200], y[:200], xt, yt, batch_size=64)
    assert [int(images.shape[0]) for images, _ in train_ds] == [64, 64, 64]
    with pytest.raises(ValueError, match="no full batch"):
        train("cct_2_3x2", ((x[:50], y[:50]), (xt, yt)), epochs=1, batch_size=64)


def test_a_long_run_prints_its_estimated_hours_before_it_starts(sample, monkeypatch, capsys):
    import helpers.train

    monkeypatch.setattr(helpers.train, "LONG_RUN_EPOCHS", 2)  # the paper's 310 epochs, in miniature
    run = train("cct_2_3x2", sample, epochs=2, batch_size=64, verbose=0)
    printed = capsys.readouterr().out
    assert "2 epoch(s) of the fast recipe to train:" in printed and "estimated" in printed and " h (" in printed
    assert len(run.history["loss"]) == 2


def test_a_budget_never_trains_more_than_the_whole_recipe(sample, capsys):
    run = train("cct_2_3x2", sample, recipe=get_recipe("short", epochs=2), minutes=30, batch_size=64, verbose=0)
    assert run.results["epochs"] == 2 and "(all of it)" in capsys.readouterr().out
