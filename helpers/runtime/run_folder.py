"""What keeps a run folder whole through kills, full disks and a second run started into it.

Every file is written atomically (`helpers.runtime.atomic_files`): into a hidden temporary file in the
same folder, flushed to the disk, then renamed over the old one, so whoever reads the folder, a
resume after `kill -9` included, finds the old file or the new one, never half of one; and a
write that fails (disk full, read-only) leaves the old file.

    with atomic_path(folder / "best.keras", RunFolderWriteRefused) as temporary:
        model.save(temporary)
    with RunFolderLock(folder):  # refuses a second live run into the same folder
        ...

The backup of a run is a folder per completed epoch, `backup/epochs_NNNNN/`, holding the
weights with the optimizer's state and the history up to that epoch; it too is built under a
temporary name and renamed into place, and the previous one is kept until the next is whole,
so a resume always finds a complete state, and says so when it has to skip a damaged one.
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import socket
import zipfile
from pathlib import Path

import keras

from helpers.runtime.atomic_files import (
    TEMPORARY_PREFIX,
    WriteRefusedError,
    atomic_path,
    describe_write_failure,
    discard,
    remove as _remove,
    temporary_path,
    write_json_atomically,
    write_text_atomically,
)

LOCK_NAME = "run.lock"
BACKUP_NAME = "backup"
HISTORY_NAME = "history.csv"
BACKUPS_KEPT = 2


class RunFolderError(RuntimeError):
    """A run folder cannot be used as asked: its disk refuses a write, another live run holds
    it, or it belongs to a different run."""


class RunFolderWriteRefused(WriteRefusedError, RunFolderError):
    """The disk refused a file of a run folder: says how to resume once there is room."""

    advice = (
        "Free some space or make the folder writable, then run the same call again to resume from the last "
        "completed epoch; or pass another out= folder."
    )

    def place(self):
        return f"the run folder {self.path.parent}"


def save_model_atomically(model, path):
    with atomic_path(path, RunFolderWriteRefused) as temporary:
        model.save(temporary)


def remove_leftovers(folder):
    """Delete the temporary files a killed run left behind in `folder` and its backup."""
    for parent in (Path(folder), Path(folder) / BACKUP_NAME):
        for leftover in parent.glob(f"{TEMPORARY_PREFIX}*"):
            _remove(leftover)


def keras_file_is_whole(path):
    """True when the .keras archive at `path` opens and every member passes its checksum."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None and "config.json" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


# --- history.csv -------------------------------------------------------------------------


def read_history(folder):
    """The rows of a run folder's history.csv (empty if there is none)."""
    path = Path(folder) / HISTORY_NAME
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def read_history_columns(folder):
    """A run folder's history.csv as {metric: [value per epoch]} (floats, no epoch column)."""
    rows = read_history(folder)
    return {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"} if rows else {}


def write_history(folder, rows):
    """Rewrite history.csv whole (it is small): an appended line could be cut by a kill."""
    path = Path(folder) / HISTORY_NAME
    if not rows:
        _remove(path)
        return
    columns = ["epoch"] + sorted(key for key in rows[0] if key != "epoch")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomically(path, text.getvalue(), RunFolderWriteRefused)


# --- the backup --------------------------------------------------------------------------

BACKUP_WEIGHTS = "state.weights.h5"
BACKUP_STATE = "state.json"
KERAS_WEIGHTS_MEMBER = "model.weights.h5"  # a .keras archive's weights: a .weights.h5 file


def _backups(folder):
    """The backup folders of a run, newest first."""
    backup = Path(folder) / BACKUP_NAME
    if not backup.is_dir():
        return []
    return sorted((p for p in backup.glob("epochs_*") if p.is_dir()), reverse=True)


def _digest(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _save_weights_through_memory(model, path):
    """model.save_weights(path), the optimizer's state included, without HDF5 writing to the disk:
    when one of its writes fails (a full disk), HDF5 can neither finish the file nor close it, and
    h5py crashes the process as it lets go of it, a segmentation fault after the clear error (h5py
    issue 914). model.save builds a .keras archive's weights in memory (when the memory holds them)
    and writes them through zipfile; they are copied out of it with Python's writes, whose failures
    are plain OSErrors."""
    archive = path.with_name(path.name.removesuffix(".weights.h5") + ".keras")
    model.save(archive)
    with zipfile.ZipFile(archive) as opened:
        weights = opened.read(KERAS_WEIGHTS_MEMBER)
    archive.unlink()
    path.write_bytes(weights)


def save_backup(model, folder, rows):
    """Back up `model` (weights and optimizer state) after len(rows) epochs, with the rows."""
    backup = Path(folder) / BACKUP_NAME
    backup.mkdir(exist_ok=True)
    with atomic_path(backup / f"epochs_{len(rows):05d}", RunFolderWriteRefused) as temporary:
        temporary.mkdir()
        _save_weights_through_memory(model, temporary / BACKUP_WEIGHTS)
        state = {"epochs_done": len(rows), "history": rows, "weights_sha256": _digest(temporary / BACKUP_WEIGHTS)}
        (temporary / BACKUP_STATE).write_text(json.dumps(state, indent=1) + "\n")
    for outdated in _backups(folder)[BACKUPS_KEPT:]:
        _remove(outdated)


def restore_backup(model, folder):
    """Load the newest whole backup of `folder` into the compiled `model` and return the
    history rows it was taken after ([] when there is none, and the model is left as it was).
    A damaged backup is reported, by name, and the one before it is tried."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    fresh = [variable.numpy() for variable in model.variables + model.optimizer.variables]
    for backup in _backups(folder):
        try:
            state = json.loads((backup / BACKUP_STATE).read_text())
            if _digest(backup / BACKUP_WEIGHTS) != state["weights_sha256"]:
                raise ValueError("its weights do not match the checksum taken when they were written")
            model.load_weights(backup / BACKUP_WEIGHTS)
            print(f"resuming from {backup} ({state['epochs_done']} epoch(s) done)")
            return state["history"]
        except Exception as error:
            print(
                f"warning: the backup {backup} is damaged ({type(error).__name__}: {error}); "
                "falling back to the one before it"
            )
            for variable, value in zip(model.variables + model.optimizer.variables, fresh):
                variable.assign(value)  # a half-loaded backup must not leak into the next try
    return []


def remove_backup(folder):
    _remove(Path(folder) / BACKUP_NAME)


class RunFolderLog(keras.callbacks.Callback):
    """After each epoch: the backup (weights, optimizer state, history), then history.csv,
    each whole or not at all. `rows` are the epochs restored from an earlier session."""

    def __init__(self, folder, rows):
        super().__init__()
        self.folder = Path(folder)
        self.rows = list(rows)

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{key: float(value) for key, value in (logs or {}).items()}})
        save_backup(self.model, self.folder, self.rows)
        write_history(self.folder, self.rows)


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model to `path` whenever `monitor` beats `best` (higher is better)."""

    def __init__(self, path, monitor="val_accuracy", best=None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and (self.best is None or float(value) > self.best):
            self.best = float(value)
            save_model_atomically(self.model, self.path)


# --- one live run per folder --------------------------------------------------------------


def _boot_id():
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return ""


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunFolderLock:
    """`run.lock` in the folder, naming the process that trains into it. A second run into
    the same folder is refused while that process lives; a lock whose process is gone (it
    was killed) is taken over. A lock written on another machine (a shared drive) cannot be
    checked, so it is refused with the way to clear it."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(), "boot": _boot_id()}

    def __enter__(self):
        if self.folder.exists() and not self.folder.is_dir():
            raise RunFolderError(f"out={str(self.folder)!r} is a file, not a folder: pass a folder for the run.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunFolderError(
                f"Could not create the run folder {self.folder} ({error.strerror or error}). Pass an out= "
                "folder on a writable disk."
            ) from error
        while not self._try_create():
            holder = self._holder()
            if holder is None:  # the lock went between our try and our read, or is unreadable
                _remove(self.path)
                continue
            if holder == self.owner:
                break  # this process holds it already (a call that died without releasing it)
            same_machine = (holder.get("host"), holder.get("boot")) == (self.owner["host"], self.owner["boot"])
            if not same_machine:
                raise RunFolderError(
                    f"{self.path} says a run on {holder.get('host')!r} (pid {holder.get('pid')}) trains into "
                    f"{self.folder}, and from here it cannot be checked. If no run is using the folder, delete "
                    f"{self.path} and run again; otherwise pass another out= folder."
                )
            if _process_alive(holder.get("pid", -1)):
                raise RunFolderError(
                    f"Another run (pid {holder['pid']}) is training into {self.folder}. Wait for it to finish, "
                    "stop it, or pass another out= folder: two runs in one folder would mix their logs and "
                    f"checkpoints. (If pid {holder['pid']} is not a training run, delete {self.path}.)"
                )
            print(f"note: taking over {self.path} from pid {holder['pid']}, which no longer runs (it was killed)")
            _remove(self.path)
        remove_leftovers(self.folder)
        return self

    def _try_create(self):
        temporary = temporary_path(self.path)
        try:
            temporary.write_text(json.dumps(self.owner))
            try:
                os.link(temporary, self.path)  # fails if the lock exists: creation and content in one step
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links (some network drives)
                with open(self.path, "x") as file:
                    file.write(json.dumps(self.owner))
            return True
        except FileExistsError:
            return False
        except OSError as error:
            raise RunFolderWriteRefused(self.path, describe_write_failure(error)) from error
        finally:
            discard(temporary)

    def _holder(self):
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc_info):
        if self._holder() == self.owner:
            _remove(self.path)


# The files of a run besides config.json: a folder holding any of them without a config.json
# cannot be told whose run it is.
RUN_FILES = (HISTORY_NAME, BACKUP_NAME, "best.keras", "last.keras", "results.json")
# Recorded in config.json but not part of the run's contract: rewording a recipe's
# description must not make its unfinished runs unresumable.
NOT_COMPARED = ("description",)


def claim(out, config):
    """Write config.json into a new run folder, or check that `config` asks for the run already
    recorded there; a RunFolderError says what differs. A config.json must record what `config`
    records, no more and no less: one written by an older version of this package records less,
    so whether this call asks for its run cannot be told, and the folder is refused."""
    path = out / "config.json"
    if not path.exists():
        refuse_run_files_without_config(out)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomically(path, config, RunFolderWriteRefused)
        return
    saved = read_config(out)
    finished = is_finished(out)
    missing, unknown = sorted(set(config) - set(saved)), sorted(set(saved) - set(config))
    if missing or unknown:
        raise RunFolderError(
            f"{path} was not written by this version of the package: it "
            + "; ".join(part for part in (
                f"lacks {', '.join(missing)} (an older version did not record them)" if missing else "",
                f"records {', '.join(unknown)}, which this version does not know" if unknown else "",
            ) if part)
            + f", so whether this call asks for its {'finished ' if finished else ''}run cannot be told. "
            + (f"Its results stay in {out / 'results.json'} and its model in {out / 'last.keras'}. " if finished else "")
            + "Pass another out= folder to train this run."
        )
    differing = [key for key in config if key not in NOT_COMPARED and saved[key] != config[key]]
    if not differing:
        return
    verb = "load" if finished else "resume"
    listed = "; ".join(f"{key}: {saved[key]!r} there, {config[key]!r} here" for key in differing)
    if differing == ["epochs"]:
        fix = (
            f"Its learning-rate schedule is laid out for {saved['epochs']} epochs"
            f"{' and has decayed to its minimum' if finished else ''}, so a run of {config['epochs']} epochs is "
            f"another run: pass another out= folder for it (or epochs={saved['epochs']} to {verb} this one)."
        )
    else:
        fix = f"Pass the same arguments to {verb} that run, or another out= folder for this one."
    raise RunFolderError(
        f"{out} belongs to another {'finished ' if finished else ''}run: this call differs from its config.json in "
        f"{', '.join(differing)} ({listed}). {fix}"
    )


def refuse_run_files_without_config(out):
    """A RunFolderError when `out` holds run files but no config.json: whose run they are cannot be told."""
    found = [name for name in RUN_FILES if (Path(out) / name).exists()]
    if found and not (Path(out) / "config.json").exists():
        raise RunFolderError(
            f"{out} holds run files ({', '.join(found)}) but no config.json, so it cannot be told whose run they "
            "are: pass another out= folder (or delete these files to start over here)."
        )


def read_config(out):
    """The config.json of a run folder (a dict), or None when there is none; a RunFolderError
    when it is damaged (not JSON, or not a JSON object of settings)."""
    path = Path(out) / "config.json"
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        saved, problem = None, f"it is not JSON: {error}"
    else:
        problem = None if isinstance(saved, dict) and saved else f"it holds {json.dumps(saved)[:40]}, not the run's settings"
    if problem:
        raise RunFolderError(
            f"{path} is damaged ({problem}), so it cannot be told whose run {out} holds. Restore it if you can; "
            "otherwise pass another out= folder."
        )
    return saved


def is_finished(out):
    return (Path(out) / "results.json").exists()


def finish(out, model, results):
    """Record a finished run: the last model, then results.json, and only then drop the backup
    (until results.json exists, a rerun resumes from it)."""
    save_model_atomically(model, out / "last.keras")
    write_json_atomically(out / "results.json", results, RunFolderWriteRefused)
    remove_backup(out)


def load_finished(out):
    """(model, history rows, results) of a finished run folder."""
    rows = read_history(out)
    remove_backup(out)  # left over when a kill came between results.json and its removal
    path = out / "last.keras"
    import helpers.layers.involution  # noqa: F401 (registers notebook 07's layers, which a saved model may hold)

    try:
        model = keras.models.load_model(path)
    except Exception as error:
        raise RunFolderError(
            f"{out} holds a finished run, but {path} does not load ({type(error).__name__}: {error}). "
            f"results.json still has its scores; to train it again, pass another out= folder."
        ) from error
    return model, rows, json.loads((out / "results.json").read_text())
