"""Build the small CIFAR-10 sample that ships inside `helpers` (helpers/assets/cifar10_sample.npz).

It keeps the offline copy's JPEG files byte for byte (no re-encoding), picked at random
with a fixed seed, an equal number per class:

    python scripts/make_cifar10_sample.py --archive ../shared/data/cifar10-jpeg.tar.gz

and records its digest in helpers/assets/SHA256SUMS (`helpers.runtime.assets`), which loading it checks.
"""

import argparse
import re
import sys
import tarfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helpers.runtime.assets import record  # noqa: E402
from helpers.runtime.atomic_files import atomic_path  # noqa: E402

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEMBER = re.compile(r"cifar10-jpeg/(train|test)/([a-z]+)/(\d+)\.jpg$")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "helpers/assets/cifar10_sample.npz")
    parser.add_argument("--train-per-class", type=int, default=400)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2104)
    args = parser.parse_args()

    files = {"train": {c: {} for c in CLASS_NAMES}, "test": {c: {} for c in CLASS_NAMES}}
    with tarfile.open(args.archive) as archive:
        for member in archive:
            match = MEMBER.match(member.name)
            if match:
                split, label, number = match.groups()
                files[split][label][number] = archive.extractfile(member).read()

    rng = np.random.default_rng(args.seed)
    arrays = {}
    for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
        blobs, labels = [], []
        for label, name in enumerate(CLASS_NAMES):
            numbers = sorted(files[split][name])
            for number in rng.choice(numbers, size=per_class, replace=False):
                blobs.append(files[split][name][number])
                labels.append(label)
        order = rng.permutation(len(blobs))
        blobs = [blobs[i] for i in order]
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.uint8)[order]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as temporary:  # the temporary's name ends in .npz, so savez adds no suffix
        np.savez(temporary, **arrays)
    record(args.out)  # only a file in helpers/assets/ is recorded
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
