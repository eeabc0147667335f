"""`python -m helpers.train`: its settings, its flags, the JAX backend. (Kills: test_run_folder.py.)"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.train import main

ROOT = Path(__file__).parents[1]


def logged(out):
    path = out / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_the_command_honours_cct_smoke_and_cct_precision(tmp_path):
    """CCT_SMOKE means what it means in the notebooks (one epoch on a slice of the shipped
    sample, flags given still win); CCT_PRECISION what it means for train(): here bfloat16 on
    any CPU, since --precision is left at auto. And it is as quiet as a notebook: none of
    TensorFlow's C++ start-up lines (TF_CPP_MIN_LOG_LEVEL unset, as a user runs it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CCT_SMOKE": "1", "CCT_PRECISION": "mixed_bfloat16"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--train-images", "64", "--test-images", "32",
               "--out", str(out)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "smoke mode (CCT_SMOKE=1): the shipped sample, 64 training and 32 test images, 1 epoch(s)" in finished.stdout
    start_up = ("absl::InitializeLog", "cudart", "cuInit", "cpu_feature_guard", "oneDNN")
    assert not [line for line in finished.stderr.splitlines() if any(word in line for word in start_up)], finished.stderr
    results = json.loads((out / "results.json").read_text())
    assert (results["precision"], results["epochs"], results["train_images"], results["test_images"]) == ("mixed_bfloat16", 1, 64, 32)
    assert json.loads((out / "config.json").read_text())["batch_size"] == 64


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--epochs", "0"], "--epochs: expected a whole number >= 1, got '0'"),
        (["--train-images", "-5"], "--train-images: expected a whole number >= 1, got '-5'"),
        (["--test-images", "0"], "--test-images: expected a whole number >= 1, got '0'"),
        (["--batch-size", "two"], "--batch-size: expected a whole number >= 1, got 'two'"),
        (["--sample", "--train-images", "4001"], "--train-images 4001: the sample holds only 4000"),
        (["--precision", "bf16"], "argument --precision: invalid choice"),
    ],
)
def test_bad_flags_are_refused_before_training(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--model", "cct_2_3x2", "--out", str(tmp_path / "run"), *flags])
    assert stopped.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_command_trains_on_the_jax_backend_too(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "jax"}
    out = tmp_path / "run"
    command = [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--train-images", "64",
               "--test-images", "32", "--epochs", "1", "--batch-size", "32", "--out", str(out)]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["backend"] == "jax" and results["epochs_this_session"] == 1
    assert len(logged(out)) == 1
