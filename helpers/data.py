"""CIFAR-10: loading it (online, from a local folder, or the small sample shipped here) and its
class names. (The statistics the models normalise it with are `helpers.models.CIFAR10_MEAN` and `CIFAR10_STD`.)

    (x_train, y_train), (x_test, y_test) = load_cifar10()         # like keras.datasets
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()  # 4000 + 1000 real images, offline
    (x_fit, y_fit), (x_val, y_val) = hold_out_validation((x_train, y_train))  # 45,000 + 5,000

Images stay raw (uint8, 0-255, shape (N, 32, 32, 3)): the models normalise inside. What feeds
them to training (batches, augmentation) is `helpers.pipeline`.
"""

import functools
import io
import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np

from helpers import ASSETS

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
SAMPLE_PATH = ASSETS / "cifar10_sample.npz"
VALIDATION_IMAGES = 5_000  # held out of the 50,000 training images, as in scripts/short_budget_sweep.py


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


def hold_out_validation(split, images=VALIDATION_IMAGES):
    """(train, validation): the training split (x, y) with its last `images` held out, to score
    every epoch's curve and any choice on, so that the test split is read once, at the end.
    CIFAR-10's training batches come in no class order: the last 5,000 hold 478-525 of each class."""
    x, y = split
    if not (isinstance(images, int) and 0 < images < len(x)):
        raise ValueError(f"images must be a whole number from 1 to {len(x) - 1} (the training images less one), got {images!r}.")
    cut = len(x) - images
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def _batches_folder(folder):
    """`folder` itself, or its `cifar-10-batches-py` when it is the parent of one."""
    folder = Path(folder).expanduser()
    return folder / "cifar-10-batches-py" if (folder / "cifar-10-batches-py").is_dir() else folder


def read_cifar10_batches(folder):
    """Read the pickled batches of the official `cifar-10-python.tar.gz` from `folder`."""
    folder = _batches_folder(folder)
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


def describe_cifar10_folder(folder):
    """Which copy of CIFAR-10 a `cifar-10-batches-py` folder holds, from its test batch's file names: the
    offline JPEG copy names its files `test_<class>_NNNN.jpg`, the official archive `<name>_s_NNNNNN.png`."""
    try:
        with open(_batches_folder(folder) / "test_batch", "rb") as file:
            names = pickle.load(file, encoding="bytes").get(b"filenames", [])[:100]
    except Exception:
        return "unknown copy"
    if names and all(re.fullmatch(rb"test_[a-z]+_\d+\.jpg", name) for name in names):
        return "the offline copy: JPEG-re-encoded images, in another order than Keras' download"
    if names and all(name.endswith(b".png") for name in names):
        return "the official batches"
    return "unknown copy"


def _read_batch(path):
    try:
        with open(path, "rb") as file:
            batch = pickle.load(file, encoding="bytes")
        data = np.asarray(batch[b"data"]).reshape(-1, 3072)
        labels = np.asarray(batch[b"labels"], dtype=np.uint8).reshape(-1, 1)
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable CIFAR-10 batch ({type(error).__name__}: {error}); "
            "extract cifar-10-python.tar.gz again."
        ) from error
    if len(data) != len(labels):
        raise ValueError(f"{path} is corrupt: {len(data)} images but {len(labels)} labels.")
    expected = "uint8 rows of 3072 pixels 0-255: the red plane, then green, then blue, 32x32 each, row-major"
    low, high = (data.min(), data.max()) if data.size else (0, 0)
    if data.dtype.kind not in "ui" or low < 0 or high > 255:
        scaled = " (scaled to [0, 1]? multiply by 255)" if data.dtype.kind == "f" and 0 <= low and high <= 1 else ""
        raise ValueError(f"{path} holds {data.dtype} values from {low} to {high}{scaled}; a CIFAR-10 batch holds {expected}.")
    data = data.astype(np.uint8)
    if len(data) >= 1000:  # fewer photographs leave the statistics undecided (random values pass them)
        _check_image_statistics(path, data, expected)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _check_image_statistics(path, data, expected):
    """Refuses a batch stored pixel by pixel, warns of one in BGR order (statistics of the official batches)."""
    # Planar rows hold the next pixel's same colour 1 value on, interleaved ones 3 on: the mean step over 1 is
    # 0.51-0.52x that over 3 in the official batches, 1.5-1.6x interleaved (300 draws of 1,000 images: < 0.53x, > 1.5x).
    step, step_over_3 = (np.abs(data[:, k:].astype(np.int16) - data[:, :-k]).mean() for k in (1, 3))
    if step > 1.2 * step_over_3:
        raise ValueError(
            f"{path} looks stored pixel by pixel (height, width, channel): values differ from the next {step / step_over_3:.2f}x"
            " as much as from the one 3 on, the next pixel's same colour if so (official planar rows: 0.5x). A CIFAR-10"
            f" batch holds {expected}. Store each (32, 32, 3) image as image.transpose(2, 0, 1).reshape(3072)."
        )
    red, _, blue = data.reshape(len(data), 3, 1024).mean(axis=(0, 2)) / 255
    if blue - red > 0.02:  # in the official batches red - blue is 0.044-0.047 (300 draws of 1,000 images: > 0.038)
        warnings.warn(f"{path}: its first (red) plane averages {red:.3f}, its third (blue) {blue:.3f}, CIFAR-10's 0.491 "
                      "and 0.447: is the batch in BGR order? The planes go red, green, blue.")


@functools.lru_cache(maxsize=1)
def _decoded_sample():
    from PIL import Image

    from helpers.runtime.assets import verified  # the digest is checked on the first load, not on import

    arrays = np.load(verified(SAMPLE_PATH))
    splits = []
    for split in ("train", "test"):
        blob, offsets = arrays[f"{split}_jpeg"].tobytes(), arrays[f"{split}_offsets"]
        images = np.stack(
            [np.asarray(Image.open(io.BytesIO(blob[start:end])).convert("RGB")) for start, end in zip(offsets, offsets[1:])]
        )
        splits.append((images, arrays[f"{split}_labels"].reshape(-1, 1)))
    return tuple(splits)


def load_cifar10_sample():
    """A small real subset of CIFAR-10 shipped inside the package, in `load_cifar10()`'s format: 4000 training
    images (400 per class) and 1000 test images (100 per class), JPEG files of the offline copy (quality 75), so
    pixels differ slightly from the official release; for smoke runs and tests, not results. Checked on its first
    load against the digest it shipped with (`helpers.runtime.assets`): a damaged or missing copy is refused."""
    (x_train, y_train), (x_test, y_test) = _decoded_sample()
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
