"""A run folder survives kills at any moment, full disks and damaged files, and belongs to one run."""

import contextlib
import errno
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import keras

from helpers.runtime.atomic_files import PAUSE_BEFORE_RENAME_VARIABLE
from helpers.data import load_cifar10_sample
from helpers.pipeline.host import make_datasets
from helpers.models import create_model
from helpers.runtime.run_folder import (
    RunFolderError,
    RunFolderLock,
    _boot_id,
    read_history,
    write_history,
)
from helpers.recipes import compile_model, get_recipe
from helpers.runtime.loop import resumable_fit
from helpers.train import train

ROOT = Path(__file__).parents[2]
EPOCHS = 3


def command(out, epochs=EPOCHS):
    return [sys.executable, "-m", "helpers.train", "--model", "cct_2_3x2", "--sample", "--train-images", "128",
            "--test-images", "64", "--batch-size", "32", "--epochs", str(epochs), "--out", str(out)]


def environment(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def partial_files(out):
    return [*out.glob(".partial-*"), *(out / "backup").glob(".partial-*")]


def kill_when(out, condition, deadline_s, pause_s=None):
    """Start a run into `out` and kill -9 it as soon as condition(out) holds (or at the
    deadline); True when the condition was met while the run was alive."""
    env = environment(**({PAUSE_BEFORE_RENAME_VARIABLE: str(pause_s)} if pause_s else {}))
    process = subprocess.Popen(command(out), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, met = time.time() + deadline_s, False
    while time.time() < deadline and process.poll() is None:
        if condition(out):
            met = True
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return met


def test_a_run_killed_at_random_moments_and_during_checkpoint_writes_finishes_whole(tmp_path):
    """Five kill -9s: three at seeded random moments, one while a backup is being written and one
    after the last epoch while last.keras is being written (before results.json); then the
    run finishes. Replay a failure with KILL_SEED."""
    rng = random.Random(int(os.environ.get("KILL_SEED", 12)))
    out = tmp_path / "run"
    never = lambda out: False  # noqa: E731  (a plain timed kill)
    writing_backup = lambda out: any((out / "backup").glob(".partial-*"))  # noqa: E731
    writing_last = lambda out: any(out.glob(".partial-*last.keras"))  # noqa: E731
    kill_when(out, never, rng.uniform(5, 9))
    assert kill_when(out, writing_backup, 60, pause_s=0.5), "no backup write to kill"
    kill_when(out, never, rng.uniform(5, 9))
    kill_when(out, never, rng.uniform(5, 9))
    assert kill_when(out, writing_last, 90, pause_s=0.5), "no write of last.keras to kill"
    assert not (out / "results.json").exists()

    finished = subprocess.run(command(out), cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    assert "taking over" in finished.stdout  # the killed run's lock
    assert [row["epoch"] for row in read_history(out)] == [str(epoch) for epoch in range(EPOCHS)]
    results = json.loads((out / "results.json").read_text())
    assert results["epochs"] == EPOCHS
    for checkpoint in ("best.keras", "last.keras"):
        keras.models.load_model(out / checkpoint)
    assert not (out / "backup").exists() and not (out / "run.lock").exists() and not partial_files(out)


@contextlib.contextmanager
def small_disk(limit_bytes):
    """Writes of files over `limit_bytes` fail (EFBIG), in this process, as on a nearly full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


def test_a_full_disk_names_the_folder_and_the_run_resumes_once_there_is_room(tiny_data, tmp_path):
    out = tmp_path / "run"
    with small_disk(100_000), pytest.raises(RunFolderError) as refused:  # config.json fits, a checkpoint does not
        run_folder_with_config(tiny_data, tmp_path)
    assert f"Could not write best.keras into the run folder {out}" in str(refused.value)
    assert "run the same call again to resume" in str(refused.value)
    assert not partial_files(out) and not (out / "run.lock").exists()

    run_folder_with_config(tiny_data, tmp_path)
    assert [row["epoch"] for row in read_history(out)] == ["0"] and (out / "results.json").exists()


def test_a_failed_write_keeps_the_previous_file_and_says_why(tmp_path, monkeypatch):
    path = tmp_path / "history.csv"
    write_history(tmp_path, [{"epoch": 0, "loss": 1.0}])
    old = path.read_text()

    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(RunFolderError, match=rf"history.csv into the run folder {tmp_path} \(the disk is full\)\. Its previous"):
        write_history(tmp_path, [{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}])
    assert path.read_text() == old and list(tmp_path.iterdir()) == [path]


@pytest.fixture(scope="module")
def tiny_data():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:64], y_train[:64]), (x_test[:32], y_test[:32])


def test_a_damaged_backup_or_checkpoint_is_named_and_the_resume_falls_back(tiny_data, tmp_path, capsys):
    (x_train, y_train), (x_test, y_test) = tiny_data
    train_ds, test_ds = make_datasets(x_train, y_train, x_test, y_test, batch_size=32, augment=None)

    def compiled():
        return compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=3), 2)

    resumable_fit(compiled(), train_ds, test_ds, epochs=2, run_dir=tmp_path, verbose=0, keep_best=True)
    newest = tmp_path / "backup" / "epochs_00002" / "state.weights.h5"
    newest.write_bytes(newest.read_bytes()[:1000])  # as a kill during a non-atomic write would leave it
    (tmp_path / "best.keras").write_bytes(b"")
    resumed = compiled()
    resumable_fit(resumed, train_ds, test_ds, epochs=3, run_dir=tmp_path, verbose=0, keep_best=True)
    assert int(resumed.optimizer.iterations) == 3 * 2  # the optimizer's state came back with the weights
    said = capsys.readouterr().out
    assert f"the backup {newest.parent} is damaged" in said and "falling back" in said
    assert f"{tmp_path / 'best.keras'} is damaged" in said
    assert "resuming from" in said and "epochs_00001 (1 epoch(s) done)" in said
    assert [row["epoch"] for row in read_history(tmp_path)] == ["0", "1", "2"]
    keras.models.load_model(tmp_path / "best.keras")


def run_folder_with_config(tiny_data, tmp_path, **arguments):
    arguments = {"recipe": "short", "epochs": 1, "batch_size": 32, "out": tmp_path / "run", "verbose": 0, **arguments}
    return train(arguments.pop("model", "cct_2_3x2"), arguments.pop("data", tiny_data), **arguments)


def test_a_run_folder_refuses_another_run_and_lists_what_differs(tiny_data, tmp_path):
    first = run_folder_with_config(tiny_data, tmp_path)
    (x_train, y_train), test = tiny_data
    other_requests = [
        ({"model": "cct_4_3x2"}, "model: 'cct_2_3x2' there, 'cct_4_3x2' here"),
        ({"seed": 1}, "seed: 0 there, 1 here"),
        ({"precision": "mixed_bfloat16" if first.results["precision"] == "float32" else "float32"}, "in precision"),
        ({"data": ((x_train[:48], y_train[:48]), test)}, "'train_images': 64"),
        ({"data": ((255 - x_train, y_train), test)}, "in data"),
        ({"recipe": "paper"}, "in name, warmup_epochs, augment"),
        ({"positional_embedding": "sine"}, "in model_overrides"),
        ({"epochs": 3}, "schedule is laid out for 1 epochs and has decayed to its minimum"),
    ]
    for request, listed in other_requests:
        with pytest.raises(RunFolderError, match="belongs to another finished run") as refused:
            run_folder_with_config(tiny_data, tmp_path, **request)
        assert listed in str(refused.value) and "another out= folder" in str(refused.value), request
    again = run_folder_with_config(tiny_data, tmp_path, epochs=np.int64(1), batch_size=np.int64(32))
    assert again.results == first.results

    (tmp_path / "run" / "results.json").unlink()  # as if killed before the end: the same contract holds
    with pytest.raises(RunFolderError, match="belongs to another run.*num_layers.*Pass the same arguments to resume"):
        run_folder_with_config(tiny_data, tmp_path, num_layers=1)


def test_a_folder_with_run_files_but_no_config_is_refused(tiny_data, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "history.csv").write_text("epoch,loss\n0,1.0\n")
    with pytest.raises(RunFolderError, match=r"holds run files \(history.csv\) but no config.json"):
        run_folder_with_config(tiny_data, tmp_path)


def write_lock(folder, pid):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "boot": _boot_id()}))


def test_a_live_run_holds_its_folder_and_a_killed_ones_lock_is_taken_over(tiny_data, tmp_path, capsys):
    folder = tmp_path / "run"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(folder, live.pid)
        with pytest.raises(RunFolderError, match=rf"Another run \(pid {live.pid}\) is training into {folder}"):
            run_folder_with_config(tiny_data, tmp_path)
        assert not (folder / "config.json").exists()
    finally:
        live.kill()
        live.wait()
    write_lock(folder, live.pid)  # its process is gone now, as after a kill -9
    with RunFolderLock(folder):
        assert json.loads((folder / "run.lock").read_text())["pid"] == os.getpid()
    assert f"taking over {folder / 'run.lock'} from pid {live.pid}" in capsys.readouterr().out
    assert not (folder / "run.lock").exists()

    (folder / "run.lock").write_text(json.dumps({"pid": 1, "host": "colab-runtime-7", "boot": "x"}))
    with pytest.raises(RunFolderError, match="run on 'colab-runtime-7'.*cannot be checked.*delete"):
        RunFolderLock(folder).__enter__()


BACKUP_ON_A_SMALL_DISK = """
import resource, signal, sys
from helpers.models import create_model
from helpers.recipes import compile_model, get_recipe
from helpers.runtime.run_folder import RunFolderError, save_backup

model = compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=1), 2)
model.optimizer.build(model.trainable_variables)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    save_backup(model, sys.argv[1], [{"epoch": 0, "loss": 1.0}])
except RunFolderError as error:
    raise SystemExit(f"error: {error}")  # as python -m helpers.train does
"""


@pytest.mark.parametrize("limit_bytes", [500_000, 1_000_000])  # both crashed the old code
def test_a_backup_refused_by_a_full_disk_exits_with_the_message_not_a_crash(tmp_path, limit_bytes):
    """The backup's weights file is the one a full disk cut inside HDF5, which then could neither
    finish nor close it: the process printed the clear message, then h5py's errors, and died with
    a segmentation fault at exit. (python -m helpers.train, on a small tmpfs, ended the same way;
    under RLIMIT_FSIZE alone its larger best.keras is refused first, cleanly.)"""
    ran = subprocess.run(
        [sys.executable, "-c", BACKUP_ON_A_SMALL_DISK, str(tmp_path), str(limit_bytes)],
        cwd=ROOT, env=environment(PYTHONFAULTHANDLER="1"), capture_output=True, text=True, timeout=300,
    )
    said = ran.stderr.strip().splitlines()
    assert ran.returncode == 1, ran.stderr[-3000:]
    assert said[-1].startswith(f"error: Could not write epochs_00001 into the run folder {tmp_path / 'backup'} ("), ran.stderr[-3000:]
    assert "Exception ignored" not in ran.stderr and "Fatal Python error" not in ran.stderr, ran.stderr[-3000:]
    assert not partial_files(tmp_path)


def test_a_lock_refused_by_a_read_only_disk_says_so(tmp_path, monkeypatch):
    """The clean-up of the lock's temporary file is refused too; the refusal of the write is the one shown."""
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "write_text", read_only)
    monkeypatch.setattr(os, "unlink", read_only)
    with pytest.raises(RunFolderError, match=rf"Could not write run.lock into the run folder {tmp_path} \(the file system is read-only\)"):
        with RunFolderLock(tmp_path):
            pass
