"""helpers.runtime.atomic_files: whole files and folders or none, without Keras."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runtime.atomic_files import TEMPORARY_PREFIX, WriteRefusedError, atomic_path, write_text_atomically

ROOT = Path(__file__).parents[2]


def hidden(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))


def test_a_failed_write_keeps_the_old_file_and_names_the_reason(tmp_path):
    path = tmp_path / "table.csv"
    write_text_atomically(path, "old\n")
    with pytest.raises(WriteRefusedError, match=r"table.csv into .* \(the disk is full\)\. Its previous table.csv is kept"):
        with atomic_path(path) as temporary:
            temporary.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "old\n"
    assert hidden(tmp_path) == []


def test_an_error_that_is_not_the_disks_passes_unchanged(tmp_path):
    with pytest.raises(KeyError):
        with atomic_path(tmp_path / "x.txt") as temporary:
            temporary.write_text("half")
            raise KeyError("bug")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_replaces_the_older_one_whole(tmp_path):
    out = tmp_path / "edition"
    for version in ("one", "two"):
        with atomic_path(out) as temporary:
            temporary.mkdir()
            (temporary / f"{version}.txt").write_text(version)
    assert [p.name for p in out.iterdir()] == ["two.txt"]
    assert hidden(tmp_path) == []


def test_a_folder_that_cannot_move_in_leaves_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "edition"
    with atomic_path(out) as temporary:
        temporary.mkdir()
        (temporary / "old.txt").write_text("old")
    real_replace = os.replace

    def refuse_the_new_folder(source, target):
        if Path(source).name.startswith(TEMPORARY_PREFIX):
            raise OSError(errno.EROFS, "Read-only file system")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_the_new_folder)
    with pytest.raises(WriteRefusedError, match="read-only"):
        with atomic_path(out) as temporary:
            temporary.mkdir()
            (temporary / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert hidden(tmp_path) == []


def test_figures_and_tables_are_written_without_loading_keras():
    code = (
        "import sys; import helpers.runtime.atomic_files, helpers.figures.plotting, helpers.experiments.data_efficiency; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def refuse_every_deletion(monkeypatch):
    """From now on, deletions fail as on a read-only file system (os.unlink is what Path.unlink calls)."""
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "unlink", read_only)


def test_a_clean_up_refused_after_a_failed_write_leaves_the_refusal_shown(tmp_path, monkeypatch):
    path = tmp_path / "table.csv"
    with pytest.raises(WriteRefusedError, match=r"table.csv into .* \(the file system is read-only\)"):
        with atomic_path(path) as temporary:
            temporary.write_text("half")
            refuse_every_deletion(monkeypatch)  # the disk turns read-only: the temporary cannot go either
            raise OSError(errno.EROFS, "Read-only file system")
    assert not path.exists()


def test_a_read_only_disk_is_refused_with_the_clear_error_before_anything_is_written(tmp_path, monkeypatch):
    """Clearing a temporary file left by a killed write is the first thing the disk refuses."""
    refuse_every_deletion(monkeypatch)
    with pytest.raises(WriteRefusedError, match=r"table.csv into .* \(the file system is read-only\)"):
        write_text_atomically(tmp_path / "table.csv", "new\n")
