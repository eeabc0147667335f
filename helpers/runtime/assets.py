"""The files that ship in helpers/assets/, checked against their SHA-256 digests before they are
read: a weights file damaged in the middle (a broken download or copy, a disk error, a stray
edit) would otherwise load silently with other numbers, and other damage fails with a raw h5py
or NumPy error that names no file.

helpers/assets/SHA256SUMS lists every shipped file with its digest, in `sha256sum`'s format
(`cd helpers/assets && sha256sum -c SHA256SUMS` checks them as well). Readers of shipped files
pass them through `verified(path)`, which names the file and the remedy when it is missing or
damaged; the scripts that write shipped files call `record(path)` after writing. A file copied
into helpers/assets/ by hand is recorded with

    python -m helpers.runtime.assets --record helpers/assets/runs/cct.json

and `python -m helpers.runtime.assets` checks every shipped file.
"""

import argparse
import functools
import hashlib
import os
from pathlib import Path

import helpers

MANIFEST = "SHA256SUMS"


class ShippedFileError(ValueError):
    """A file that ships with the package cannot be used as shipped; `path` is where it should be."""

    def __init__(self, path, problem, remedy=None):
        self.path = Path(path)
        name = _shown_name(self.path)
        super().__init__(f"{name} {problem}. {remedy or _reinstall(name)}")


class MissingShippedFileError(ShippedFileError, FileNotFoundError):
    """A shipped file is not there."""


class DamagedShippedFileError(ShippedFileError):
    """A shipped file is there, but its bytes are not the ones shipped."""


def _reinstall(name):
    return (
        f'Reinstall the package (pip install --force-reinstall --no-deps "{helpers.INSTALL_SOURCE}"), or in a git checkout '
        f"restore it: git checkout {name}"
    )


def _shown_name(path):
    relative = _relative_name(path)
    return f"helpers/assets/{relative}" if relative else str(path)


def _relative_name(path):
    """`path` relative to the assets folder (a POSIX string), or None when it lies outside."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(helpers.ASSETS)).as_posix()
    except ValueError:
        return None


def manifest():
    """{name relative to helpers/assets/: its SHA-256 digest} for every shipped file."""
    path = Path(helpers.ASSETS) / MANIFEST
    if not path.is_file():
        raise MissingShippedFileError(path, "is missing: it lists the digests the shipped files are checked against")
    digests = {}
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        sha256, _, name = line.partition("  ")
        if len(sha256) != 64 or not name:
            raise DamagedShippedFileError(path, f"is damaged: line {number} is not '<SHA-256 digest>  <file name>'")
        digests[name] = sha256
    return digests


def listed(path):
    """Whether the manifest lists `path` as a shipped file."""
    return _relative_name(path) in manifest()


def verified(path):
    """`path`, a file shipped in helpers/assets/, once its SHA-256 digest is the one the manifest
    lists; else a MissingShippedFileError or DamagedShippedFileError names it and the remedy.
    A path outside the assets folder is no shipped file: it comes back unchecked."""
    path = Path(path)
    relative = _relative_name(path)
    if relative is None:
        return path
    expected = manifest().get(relative)
    if expected is None:
        unlisted = f"the package ships no such file (helpers/assets/{MANIFEST} does not list it)"
        if not path.exists():
            raise MissingShippedFileError(path, f"is not there, and {unlisted}", "Check the name.")
        raise ShippedFileError(
            path, f"cannot be checked: {unlisted}",
            f"If you put it there on purpose, record it: python -m helpers.runtime.assets --record helpers/assets/{relative}",
        )
    if not path.is_file():
        raise MissingShippedFileError(path, f"is missing (looked for it at {path}): it ships with the package")
    found = digest(path)
    if found != expected:
        raise DamagedShippedFileError(
            path,
            f"is damaged: its SHA-256 digest is {found[:12]}..., the shipped file's {expected[:12]}... "
            f"(helpers/assets/{MANIFEST}). Reading it could give other numbers without an error",
            _reinstall(f"helpers/assets/{relative}") + ". If you replaced it on purpose, record it: "
            f"python -m helpers.runtime.assets --record helpers/assets/{relative}",
        )
    return path


def digest(path):
    """The SHA-256 digest of the file `path` (hex), computed once per version of the file."""
    stat = Path(path).stat()
    return _digest_of(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _digest_of(path, modified_ns, size):  # the time and size key the cache: a rewritten file is hashed again
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record(*paths):
    """Write the digests of those of `paths` that lie in helpers/assets/ into the manifest (others
    are no shipped files); a path no longer there leaves the manifest. The scripts that write
    shipped files call this after writing them."""
    from helpers.runtime.atomic_files import write_text_atomically

    manifest_path = Path(helpers.ASSETS) / MANIFEST
    digests = manifest() if manifest_path.exists() else {}
    for path in paths:
        relative = _relative_name(path)
        if relative is None:
            continue
        if Path(path).is_file():
            digests[relative] = digest(path)
        else:
            digests.pop(relative, None)
    write_text_atomically(manifest_path, "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)))


def problems():
    """What is wrong with the shipped files, in words: missing, damaged or not listed ([] when none)."""
    folder = Path(helpers.ASSETS)
    found = []
    for name in manifest():
        try:
            verified(folder / name)
        except ShippedFileError as error:
            found.append(str(error))
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST and not listed(path):
            found.append(str(ShippedFileError(path, f"is not listed in helpers/assets/{MANIFEST}", "Record it or remove it.")))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", nargs="+", type=Path, metavar="FILE",
                        help="write these files' digests into the manifest (files in helpers/assets/)")
    args = parser.parse_args(argv)
    if args.record:
        outside = [str(path) for path in args.record if _relative_name(path) is None]
        if outside:
            parser.error(f"not in the package's assets folder {helpers.ASSETS}: {', '.join(outside)}")
        record(*args.record)
        print(f"recorded {len(args.record)} file(s) in {Path(helpers.ASSETS) / MANIFEST}")
        return
    found = problems()
    print("\n".join(found) or f"every shipped file matches {Path(helpers.ASSETS) / MANIFEST}")
    if found:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
