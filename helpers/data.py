"""CIFAR-10: loading it (online, from a local folder, or the small sample shipped here), its
class names and the statistics the models normalise with.

    (x_train, y_train), (x_test, y_test) = load_cifar10()         # like keras.datasets
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()  # 4000 + 1000 real images, offline

Images stay raw (uint8, 0-255, shape (N, 32, 32, 3)): the models normalise inside. What feeds
them to training (batches, augmentation) is `helpers.pipeline`.
"""

import functools
import io
import os
import pickle
from pathlib import Path

import numpy as np

from helpers import ASSETS

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
SAMPLE_PATH = ASSETS / "cifar10_sample.npz"
# The per-channel statistics the official code normalises CIFAR-10 with (official binary release).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def load_cifar10():
    """(x_train, y_train), (x_test, y_test) as `keras.datasets.cifar10.load_data()` returns them.

    If the environment variable CIFAR10_DIR names a folder, the standard
    `cifar-10-batches-py/` layout is read from there (the folder itself or its parent);
    otherwise Keras downloads the official archive.
    """
    folder = os.environ.get("CIFAR10_DIR")
    if folder:
        return read_cifar10_batches(folder)
    import keras

    try:
        return keras.datasets.cifar10.load_data()
    except Exception as error:
        raise RuntimeError(
            f"Could not download CIFAR-10 ({error}). Without network access, put the extracted "
            "'cifar-10-batches-py' folder on disk and set the environment variable CIFAR10_DIR to it "
            "(or to its parent), e.g. os.environ['CIFAR10_DIR'] = '/data/cifar-10-batches-py'. "
            "For a quick offline try, load_cifar10_sample() returns a small real subset."
        ) from error


def read_cifar10_batches(folder):
    """Read the pickled batches of the official `cifar-10-python.tar.gz` from `folder`."""
    folder = Path(folder).expanduser()
    if (folder / "cifar-10-batches-py").is_dir():
        folder = folder / "cifar-10-batches-py"
    missing = [name for name in BATCH_FILES if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR10_DIR={folder} lacks {', '.join(missing)}: it must hold the extracted "
            f"'cifar-10-batches-py' folder ({', '.join(BATCH_FILES)})."
        )
    train = [_read_batch(folder / name) for name in BATCH_FILES[:5]]
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train), _read_batch(folder / "test_batch")


def _read_batch(path):
    try:
        with open(path, "rb") as file:
            batch = pickle.load(file, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.uint8).reshape(-1, 1)
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable CIFAR-10 batch ({type(error).__name__}: {error}); "
            "extract cifar-10-python.tar.gz again."
        ) from error
    if len(data) != len(labels):
        raise ValueError(f"{path} is corrupt: {len(data)} images but {len(labels)} labels.")
    return data.transpose(0, 2, 3, 1), labels


@functools.lru_cache(maxsize=1)
def _decoded_sample():
    from PIL import Image

    arrays = np.load(SAMPLE_PATH)
    splits = []
    for split in ("train", "test"):
        blob, offsets = arrays[f"{split}_jpeg"].tobytes(), arrays[f"{split}_offsets"]
        images = np.stack(
            [np.asarray(Image.open(io.BytesIO(blob[start:end])).convert("RGB")) for start, end in zip(offsets, offsets[1:])]
        )
        splits.append((images, arrays[f"{split}_labels"].reshape(-1, 1)))
    return tuple(splits)


def load_cifar10_sample():
    """A small real subset of CIFAR-10 shipped inside the package: 4000 training images
    (400 per class) and 1000 test images (100 per class), in `load_cifar10()`'s format.

    They are JPEG files of the offline copy (quality 75), so pixels differ slightly from
    the official release. Meant for smoke runs and tests, not for results.
    """
    (x_train, y_train), (x_test, y_test) = _decoded_sample()
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
