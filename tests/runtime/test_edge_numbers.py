"""Numbers at the edges are refused where they enter, with the allowed range in the message:
budgets (train, the command line, CCT_MINUTES), recipe fields, seeds, counts, CCT_SMOKE."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.data import load_cifar10_sample
from helpers.models import create_model
from helpers.notebook import notebook_settings, smoke_mode
from helpers.recipes import get_recipe
from helpers.train import train

ROOT = Path(__file__).resolve().parents[2]
BUDGET_RANGE = r"minutes must be a number in \(0, 10,080\] \(a wall-clock training budget; 10,080 minutes is a week\)"


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:64], y_train[:64]), (x_test[:32], y_test[:32])


@pytest.mark.parametrize("minutes", [1e308, 10_081, float("inf"), float("nan"), 0, -5, True, "soon"])
def test_a_budget_outside_its_range_is_refused_before_any_work(minutes, data, tmp_path):
    with pytest.raises(ValueError, match=rf"{BUDGET_RANGE}, got {re.escape(repr(minutes))}\."):
        train("cct_2_3x2", data, minutes=minutes, batch_size=32, out=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()


def test_the_same_budget_range_holds_for_cct_minutes_and_the_command_line(monkeypatch, tmp_path):
    monkeypatch.delenv("CCT_SMOKE", raising=False)
    monkeypatch.setenv("CCT_MINUTES", "1e308")
    with pytest.raises(ValueError, match=rf"{BUDGET_RANGE}, got 1e\+308 \(from the environment variable CCT_MINUTES\)"):
        notebook_settings(profile="cpu", verbose=False)
    monkeypatch.setenv("CCT_MINUTES", "2.5")
    assert notebook_settings(profile="cpu", verbose=False).minutes == 2.5
    command = [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--minutes", "1e308",
               "--out", str(tmp_path / "run")]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and "argument --minutes: minutes must be a number in (0, 10,080]" in run.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("learning_rate", 100.0, r"learning_rate must be a number in \(0, 1\], got 100.0"),
        ("min_learning_rate", 2.0, r"min_learning_rate must be a number in \(0, 1\], got 2.0"),
        ("weight_decay", 5.0, r"weight_decay must be a number in \[0, 1\], got 5.0"),
        ("epochs", 10**9, "epochs must be a whole number from 1 to 10,000, got 1000000000"),
        ("batch_size", 10**7, "batch_size must be a whole number from 1 to 65,536, got 10000000"),
        ("warmup_epochs", 10**6, "warmup_epochs must be a whole number from 0 to 10,000, got 1000000"),
        ("label_smoothing", 1.0, r"label_smoothing must be a number in \[0, 0.99\], got 1.0"),
    ],
)
def test_recipe_fields_outside_their_range_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        get_recipe("short", **{field: value})


@pytest.mark.parametrize("seed", [-1, 2**32, 2**40])
def test_a_seed_outside_what_numpy_takes_is_refused_with_the_range(seed, data, tmp_path):
    with pytest.raises(ValueError, match=rf"seed must be a whole number from 0 to 2\*\*32 - 1 .*got {seed}"):
        train("cct_2_3x2", data, epochs=1, batch_size=32, seed=seed, out=tmp_path / "run", verbose=0)


def test_counts_that_cannot_be_meant_are_refused_before_building():
    with pytest.raises(ValueError, match="num_classes must be a whole number from 2 to 100,000, got 1000000000"):
        create_model("cct_2_3x2", num_classes=10**9)
    with pytest.raises(ValueError, match="image_size must be a whole number of pixels from 1 to 1,024, got 4096"):
        create_model("cct_2_3x2", image_size=4096)


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("0", False), ("", False), ("off", False)])
def test_cct_smoke_takes_yes_or_no(value, expected, monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", value)
    assert smoke_mode() is expected


def test_cct_smoke_refuses_a_value_it_cannot_read(monkeypatch):
    monkeypatch.setenv("CCT_SMOKE", "2")
    with pytest.raises(ValueError, match=r"CCT_SMOKE must be 1 or 0 \(or true/false, yes/no, on/off\), got '2'"):
        smoke_mode()
