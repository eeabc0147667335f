"""Files that appear whole or not at all, for everything the project writes (no Keras here,
so figures, tables and scripts can use it without loading a deep-learning framework).

A file is written into a hidden temporary file in its own folder, flushed to the disk, then
renamed over the old one. A rename within one file system is atomic, so a reader, a resume
after `kill -9` included, finds the old file or the new one, never half of one; and a write
that fails (disk full, read-only) leaves the old file.

    with atomic_path(folder / "figure.png") as temporary:
        figure.savefig(temporary)
    write_text_atomically(folder / "table.csv", text)

`helpers.runtime.run_folder` builds the training runs' folders on these, with advice about resuming
in its errors.
"""

import contextlib
import errno
import json
import os
import shutil
import time
from pathlib import Path

TEMPORARY_PREFIX = ".partial-"
REPLACED_PREFIX = ".replaced-"  # a folder's previous version, renamed aside while the new one moves in
# Test hook: seconds to wait between writing a temporary file and renaming it, so that a
# test can kill a run while a checkpoint is being written.
PAUSE_BEFORE_RENAME_VARIABLE = "CCT_TEST_PAUSE_BEFORE_RENAME"


class WriteRefusedError(RuntimeError):
    """The disk refused a write (full, read-only, no permission); the file's previous version,
    if there was one, is kept. `path` is the file, `reason` the refusal in words. A subclass
    can say where the file was going and what to do (`helpers.runtime.run_folder`)."""

    advice = "Free some space or make the folder writable, then run the same call again."

    def __init__(self, path, reason):
        self.path = Path(path)
        self.reason = reason
        kept = f" Its previous {self.path.name} is kept." if self.path.exists() else ""
        super().__init__(f"Could not write {self.path.name} into {self.place()} ({reason}).{kept} {self.advice}")

    def place(self):
        return str(self.path.parent)


def describe_write_failure(error):
    """Why the disk refused, in words, for an OSError."""
    return {
        errno.ENOSPC: "the disk is full",
        getattr(errno, "EDQUOT", "no such errno here"): "the disk quota is used up",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EFBIG: "the file is larger than this process may write",
    }.get(getattr(error, "errno", None), f"{type(error).__name__}: {error}")


def _disk_failure(error):
    """The OSError behind `error` (itself, or an error it was raised from: h5py and zipfile
    wrap the disk's refusals in their own exceptions), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def flush_to_disk(path):
    """fsync `path`, and when it is a folder, everything in it."""
    path = Path(path)
    if path.is_dir():
        for child in path.iterdir():
            flush_to_disk(child)
        flags = os.O_RDONLY
    else:
        flags = os.O_RDWR
    try:
        descriptor = os.open(path, flags)
    except OSError:
        if path.is_dir():  # some systems (Windows) cannot open a folder; its entries are flushed
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(descriptor)


def remove(path):
    """Delete a file or a folder tree; nothing happens when it is not there."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def discard(path):
    """Delete a leftover temporary file or folder, as well as the disk allows: a clean-up after
    a failure must not raise its own error (a read-only disk refuses the deletion too) in place
    of the failure's. A leftover keeps its hidden name (`helpers.runtime.run_folder.remove_leftovers`
    clears a run folder's when the run resumes)."""
    with contextlib.suppress(OSError):
        remove(path)


def temporary_path(path):
    """The hidden name `path` is written under before it is renamed into place. It keeps the
    full name at its end, as Keras requires (`.keras`, `.weights.h5`)."""
    path = Path(path)
    return path.with_name(f"{TEMPORARY_PREFIX}{os.getpid()}-{path.name}")


def _replace_folder(new, path):
    """Rename the folder `new` to `path`, which holds an older one: a folder is not renamed over
    another, so the old one is first renamed aside, and put back if the second rename fails. A
    kill between the two renames leaves both under their hidden names."""
    aside = path.with_name(f"{REPLACED_PREFIX}{os.getpid()}-{path.name}")
    remove(aside)
    os.replace(path, aside)
    try:
        os.replace(new, path)
    except OSError:
        os.replace(aside, path)
        raise
    remove(aside)


@contextlib.contextmanager
def atomic_path(path, refusal=WriteRefusedError):
    """Yield a temporary path in `path`'s folder to write to; when the block ends, flush it
    to the disk and rename it to `path` (a file or a folder; an older folder there is replaced
    whole). On any failure the temporary goes and `path` stays as it was; a refusal of the disk
    raises `refusal` (WriteRefusedError or a subclass) naming the file and the reason."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        remove(temporary)  # left by a killed write; a read-only disk refuses this first
        yield temporary
        flush_to_disk(temporary)
        pause = float(os.environ.get(PAUSE_BEFORE_RENAME_VARIABLE) or 0)
        if pause:
            time.sleep(pause)
        if temporary.is_dir() and path.exists():
            _replace_folder(temporary, path)
        else:
            os.replace(temporary, path)
        flush_to_disk(path.parent)
    except Exception as error:
        failure = _disk_failure(error)
        if failure is not None:
            raise refusal(path, describe_write_failure(failure)) from error
        raise
    finally:
        discard(temporary)


def write_text_atomically(path, text, refusal=WriteRefusedError):
    with atomic_path(path, refusal) as temporary:
        temporary.write_text(text)


def write_json_atomically(path, value, refusal=WriteRefusedError):
    write_text_atomically(path, json.dumps(value, indent=2) + "\n", refusal)
