"""`python -m helpers.train` resumes after a hard kill, with nothing lost or logged twice."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
EPOCHS = 5


def command(out):
    return [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--train-images", "128",
            "--test-images", "200", "--epochs", str(EPOCHS), "--batch-size", "32", "--out", str(out)]


def logged(out):
    path = out / "history.csv"
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_killed_run_resumes_from_last_completed_epoch(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = tmp_path / "run"
    process = subprocess.Popen(command(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while len(logged(out)) < 1 and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch's steps; an epoch here takes well under a second since the speed work
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = [row["epoch"] for row in logged(out)]
    assert 1 <= len(before) < EPOCHS, f"the kill should land mid-run, log had {before}"
    assert not (out / "results.json").exists()

    finished = subprocess.run(command(out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert [row["epoch"] for row in logged(out)] == [str(epoch) for epoch in range(EPOCHS)]
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == EPOCHS and results["epochs_this_session"] == EPOCHS - len(before)

    again = subprocess.run(command(out), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "already holds a finished run" in again.stdout
    assert len(logged(out)) == EPOCHS


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
