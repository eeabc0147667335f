"""Build the small CIFAR-10 sample that ships inside `helpers` (helpers/assets/cifar10_sample.npz).

It keeps the offline copy's JPEG files byte for byte (no re-encoding), picked at random
with a fixed seed, an equal number per class:

    python scripts/make_cifar10_sample.py --archive ../shared/data/cifar10-jpeg.tar.gz
"""

import argparse
import re
import tarfile
from pathlib import Path

import numpy as np

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
MEMBER = re.compile(r"cifar10-jpeg/(train|test)/([a-z]+)/(\d+)\.jpg$")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "helpers/assets/cifar10_sample.npz")
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
    np.savez(args.out, **arrays)
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
