import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.data import BATCH_FILES, load_cifar10, load_cifar10_sample, read_cifar10_batches


def write_fake_batches(folder, images_per_batch=4):
    """The official pickle layout, with tiny batches."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in BATCH_FILES:
        batch = {
            b"data": rng.integers(0, 256, size=(images_per_batch, 3072), dtype=np.uint8),
            b"labels": list(rng.integers(0, 10, size=images_per_batch)),
        }
        with open(folder / name, "wb") as file:
            pickle.dump(batch, file, protocol=2)
    return folder


def test_sample_is_real_balanced_cifar10():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    assert x_train.shape == (4000, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (4000, 1) and x_test.shape == (1000, 32, 32, 3)
    assert np.bincount(y_train.ravel()).tolist() == [400] * 10
    assert np.bincount(y_test.ravel()).tolist() == [100] * 10
    # Real photographs, not noise: CIFAR-10's channel means are near 0.49, 0.48, 0.45.
    np.testing.assert_allclose(x_train.mean(axis=(0, 1, 2)) / 255, [0.49, 0.48, 0.45], atol=0.03)
    assert data.SAMPLE_PATH.stat().st_size <= 5_000_000


def test_read_batches_from_folder_and_its_parent(tmp_path):
    write_fake_batches(tmp_path / "cifar-10-batches-py")
    for folder in (tmp_path, tmp_path / "cifar-10-batches-py"):
        (x_train, y_train), (x_test, y_test) = read_cifar10_batches(folder)
        assert x_train.shape == (20, 32, 32, 3) and y_train.shape == (20, 1)
        assert x_test.shape == (4, 32, 32, 3) and y_test.dtype == np.uint8


def test_batch_layout_is_channels_first_rows_then_columns(tmp_path):
    folder = write_fake_batches(tmp_path)
    with open(folder / "test_batch", "rb") as file:
        raw = pickle.load(file, encoding="bytes")[b"data"][0]
    _, (x_test, _) = read_cifar10_batches(folder)
    assert x_test[0, 0, 1, 0] == raw[1]  # red, row 0, column 1
    assert x_test[0, 1, 0, 2] == raw[2048 + 32]  # blue, row 1, column 0


def test_cifar10_dir_is_used(tmp_path, monkeypatch):
    write_fake_batches(tmp_path)
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path))
    (x_train, _), _ = load_cifar10()
    assert len(x_train) == 20


def test_missing_batch_file_is_named(tmp_path, monkeypatch):
    write_fake_batches(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="lacks data_batch_3"):
        load_cifar10()


def test_corrupt_batch_file_is_named(tmp_path, monkeypatch):
    write_fake_batches(tmp_path)
    (tmp_path / "data_batch_2").write_bytes(b"not a pickle")
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="data_batch_2 is not a readable CIFAR-10 batch"):
        load_cifar10()


def test_no_network_and_no_folder_says_how_to_set_cifar10_dir(monkeypatch):
    import keras

    def offline_download():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/: None -- [Errno -3] name resolution")

    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline_download)
    with pytest.raises(RuntimeError, match="set the environment variable CIFAR10_DIR"):
        load_cifar10()


@pytest.mark.skipif(not os.environ.get("CIFAR10_DIR"), reason="needs the full CIFAR-10 in CIFAR10_DIR")
def test_full_cifar10_from_cifar10_dir():
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y_train.ravel()).tolist() == [5000] * 10
    (x_fit, _), (x_val, y_val) = data.hold_out_validation((x_train, y_train))
    assert len(x_fit) == 45_000 and np.array_equal(x_val, x_train[45_000:])
    assert np.bincount(y_val.ravel()).min() >= 450  # the docstring's "478-525 of each class"


def test_hold_out_validation_refuses_a_split_it_cannot_make():
    split = np.zeros((10, 32, 32, 3), np.uint8), np.zeros((10, 1), np.uint8)
    (x_fit, _), (x_val, _) = data.hold_out_validation(split, images=3)
    assert (len(x_fit), len(x_val)) == (7, 3)
    for images in (0, 10, 2.5):
        with pytest.raises(ValueError, match="from 1 to 9"):
            data.hold_out_validation(split, images=images)


def write_sample_batches(folder, bad_batch=None, spoil=None):
    """The official pickle layout holding the shipped sample's real photographs, 1,000 per batch
    (enough for the image-statistics checks); `spoil(images)` gives the rows of batch `bad_batch`."""
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    splits = [(x_train[i % 4 * 1000 :][:1000], y_train[i % 4 * 1000 :][:1000]) for i in range(5)] + [(x_test, y_test)]
    for name, (images, labels) in zip(BATCH_FILES, splits):
        rows = spoil(images) if name == bad_batch else images.transpose(0, 3, 1, 2).reshape(-1, 3072)
        with open(folder / name, "wb") as file:
            pickle.dump({b"data": rows, b"labels": labels.ravel().tolist()}, file, protocol=2)
    return folder


def test_real_photographs_pass_the_batch_checks(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x_train, _), (x_test, _) = read_cifar10_batches(write_sample_batches(tmp_path))
    (sample_train, _), (sample_test, _) = load_cifar10_sample()
    np.testing.assert_array_equal(x_train[:4000], sample_train)
    np.testing.assert_array_equal(x_test, sample_test)


@pytest.mark.skipif(not os.environ.get("CIFAR10_DIR"), reason="needs the full CIFAR-10 in CIFAR10_DIR")
def test_an_official_batch_passes_the_batch_checks():
    folder = Path(os.environ["CIFAR10_DIR"]).expanduser()
    folder = folder / "cifar-10-batches-py" if (folder / "cifar-10-batches-py").is_dir() else folder
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        images, _ = data._read_batch(folder / "test_batch")
    assert images.shape == (10000, 32, 32, 3)


def test_a_batch_stored_pixel_by_pixel_is_refused(tmp_path):
    folder = write_sample_batches(tmp_path, "data_batch_2", lambda images: images.reshape(-1, 3072))
    with pytest.raises(ValueError, match=r"data_batch_2 looks stored pixel by pixel \(height, width, channel\).*red plane"):
        read_cifar10_batches(folder)


def test_a_batch_in_bgr_order_is_warned_of(tmp_path):
    folder = write_sample_batches(tmp_path, "test_batch", lambda images: images[..., ::-1].transpose(0, 3, 1, 2).reshape(-1, 3072))
    with pytest.warns(UserWarning, match=r"test_batch: .*first \(red\) plane averages 0\.44.*BGR order"):
        read_cifar10_batches(folder)


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda rows: rows / 255, r"float64 values from 0\.0 to 1\.0 \(scaled to \[0, 1\]\? multiply by 255\); .*uint8"),
        (lambda rows: rows.astype("float32"), r"float32 values from 0\.0 to 255\.0; .*uint8 rows of 3072 pixels 0-255"),
        (lambda rows: rows.astype("int16") * 2, r"int16 values from 0 to 510; .*0-255"),
    ],
)
def test_a_batch_of_other_numbers_than_bytes_is_refused(tmp_path, spoil, message):
    folder = write_sample_batches(tmp_path, "data_batch_4", lambda images: spoil(images.transpose(0, 3, 1, 2).reshape(-1, 3072)))
    with pytest.raises(ValueError, match="data_batch_4 holds " + message):
        read_cifar10_batches(folder)


def test_random_batches_pass_the_image_statistics_undecided(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x_train, _), _ = read_cifar10_batches(write_fake_batches(tmp_path, images_per_batch=1000))
    assert x_train.shape == (5000, 32, 32, 3)


@pytest.mark.parametrize(
    "names, copy",
    [([b"test_deer_0018.jpg", b"test_dog_0691.jpg"], "the offline copy: JPEG-re-encoded"),
     ([b"domestic_cat_s_000907.png", b"hydrofoil_s_000078.png"], "the official batches"),
     ([], "unknown copy")],
)
def test_the_folder_says_which_copy_of_cifar10_it_holds(tmp_path, names, copy):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as file:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1], b"filenames": names}, file, protocol=2)
    assert data.describe_cifar10_folder(tmp_path).startswith(copy)
