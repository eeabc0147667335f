"""Every way into a run folder (epochs, a time budget, the command line, a resume) loads its
finished run or refuses, before any training: a finished run is never trained again, and a
config.json that is damaged or written by an older version is refused, with what to do."""

import json
import subprocess
import time
import sys
from pathlib import Path

import pytest

from helpers.data import load_cifar10_sample
from helpers.runtime.run_folder import RunFolderError
from helpers.train import train

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(num_layers=1, embed_dim=16, num_heads=2)
# What config.json held before version 0.2 recorded the classes, the image size, the data and
# the time budget (written by the first command line, 2026-11-23 to 11-29).
OLDER_KEYS = ("model", "model_overrides", "seed", "steps_per_epoch", "precision")


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:64], y_train[:64]), (x_test[:32], y_test[:32])


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory):
    """A finished run folder of 1 epoch; each test works on a copy of it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    train("cct_2_3x2", data, epochs=1, batch_size=32, out=out, precision="float32", verbose=0, **TINY)
    return out


def copy_of(folder, tmp_path):
    subprocess.run(["cp", "-r", str(folder), str(tmp_path / "run")], check=True)
    return tmp_path / "run"


def snapshot(out):
    return {path.name: path.read_bytes() for path in out.iterdir() if path.is_file() and path.name != "run.lock"}


WAYS_IN = {
    "epochs": dict(epochs=1),
    "budget": dict(minutes=0.5),
}


@pytest.mark.parametrize("way", WAYS_IN)
@pytest.mark.parametrize("damage", ["{}", "[]", "null", '"config"', "{not json"])
def test_a_damaged_config_is_refused_and_the_finished_run_kept(damage, way, finished, data, tmp_path):
    out = copy_of(finished, tmp_path)
    (out / "config.json").write_text(damage)
    before = snapshot(out)
    with pytest.raises(RunFolderError, match=r"config.json is damaged .*another out= folder"):
        train("cct_2_3x2", data, batch_size=32, out=out, precision="float32", verbose=0, **WAYS_IN[way], **TINY)
    assert snapshot(out) == before


@pytest.mark.parametrize("way", WAYS_IN)
def test_a_config_of_an_older_version_is_refused_with_what_to_do(way, finished, data, tmp_path):
    out = copy_of(finished, tmp_path)
    config = json.loads((out / "config.json").read_text())
    recipe_fields = ("name", "epochs", "batch_size", "learning_rate", "weight_decay", "warmup_epochs", "min_learning_rate",
                     "warmup_start_learning_rate", "label_smoothing", "augment", "cooldown_epochs", "mix_until",
                     "random_erasing", "description")
    (out / "config.json").write_text(json.dumps({key: config[key] for key in OLDER_KEYS + recipe_fields}))
    before = snapshot(out)
    with pytest.raises(RunFolderError, match=r"lacks data, image_size, minutes, num_classes .*results stay in .*another out="):
        train("cct_2_3x2", data, batch_size=32, out=out, precision="float32", verbose=0, **WAYS_IN[way], **TINY)
    assert snapshot(out) == before


def test_a_budget_into_a_finished_run_of_epochs_is_refused_before_measuring(finished, data, tmp_path, capsys):
    out = copy_of(finished, tmp_path)
    before = snapshot(out)
    with pytest.raises(RunFolderError, match=r"belongs to another finished run.*minutes: None there, 0.5 here"):
        train("cct_2_3x2", data, minutes=0.5, batch_size=32, out=out, precision="float32", verbose=0, **TINY)
    assert "training images/s measured" not in capsys.readouterr().out  # refused before the probe
    assert snapshot(out) == before


def test_a_budgeted_run_loads_when_asked_again_and_its_recorded_epochs_are_checked(data, tmp_path, capsys):
    out = tmp_path / "run"
    first = train("cct_2_3x2", data, minutes=0.5, batch_size=32, out=out, precision="float32", verbose=0, **TINY)
    before = snapshot(out)
    again = train("cct_2_3x2", data, minutes=0.5, batch_size=32, out=out, precision="float32", verbose=0, **TINY)
    assert again.results == first.results and snapshot(out) == before
    assert "loading it, not training again" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "epochs": -3}))
    with pytest.raises(RunFolderError, match=r"a run of the fast recipe in a time budget trains 1 to 310 epochs, and it records epochs=-3"):
        train("cct_2_3x2", data, minutes=0.5, batch_size=32, out=out, precision="float32", verbose=0, **TINY)


def test_a_history_without_a_backup_to_resume_it_is_refused_not_replaced(finished, data, tmp_path):
    out = copy_of(finished, tmp_path)
    (out / "results.json").unlink()  # an unfinished run whose backup is gone
    history = (out / "history.csv").read_text()
    with pytest.raises(RunFolderError, match=r"logs 1 epoch\(s\), but .* holds no whole backup"):
        train("cct_2_3x2", data, epochs=1, batch_size=32, out=out, precision="float32", verbose=0, **TINY)
    assert (out / "history.csv").read_text() == history


def test_the_command_line_refuses_a_damaged_config_with_status_1(finished, tmp_path):
    out = copy_of(finished, tmp_path)
    (out / "config.json").write_text("[]")
    command = [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--train-images", "64",
               "--test-images", "32", "--batch-size", "32", "--minutes", "0.5", "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1 and "config.json is damaged" in run.stderr
    assert not (out / "history.csv").read_text() == ""


def test_a_budgeted_run_killed_after_an_epoch_resumes_with_the_epochs_it_chose(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--train-images", "256",
               "--test-images", "64", "--batch-size", "32", "--minutes", "0.5", "--out", str(out)]
    environment = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and not list((out / "backup").glob("epochs_*")):
        time.sleep(0.1)
    process.kill()
    process.wait()
    chosen = json.loads((out / "config.json").read_text())["epochs"]
    assert not (out / "results.json").exists(), "the run finished before it could be killed"
    finish = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True)
    assert finish.returncode == 0, finish.stderr[-500:]
    assert "resuming from" in finish.stdout and "training images/s measured" not in finish.stdout
    history = (out / "history.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in history] == [str(epoch) for epoch in range(chosen)]
