"""The CPU path's tf.data pipelines (`helpers.pipeline.host`): batches, augmentation, checks."""

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.pipeline.host import make_datasets


@pytest.fixture(scope="module")
def sample():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return x_train[:96], y_train[:96], x_test[:40], y_test[:40]


@pytest.mark.parametrize("augment", [None, "basic", "paper"])
def test_make_datasets_batches(sample, augment):
    train, test = make_datasets(*sample, batch_size=32, augment=augment, seed=1)
    images, labels = next(iter(train))
    assert images.shape == (32, 32, 32, 3) and images.dtype.name == "float32"
    assert labels.shape == (32, 10)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, rtol=1e-5)
    assert 0.0 <= images.numpy().min() and images.numpy().max() <= 255.0
    assert sum(len(x) for x, _ in test) == 40
    if augment == "paper":  # MixUp / CutMix blend the labels of two images
        assert labels.numpy().max(axis=1).min() < 1.0
    else:
        assert set(np.unique(labels.numpy())) == {0.0, 1.0}


def test_basic_augmentation_changes_images_but_not_test_set(sample):
    x_train, y_train, x_test, y_test = sample
    plain, _ = make_datasets(x_train, y_train, x_test, y_test, batch_size=96, augment=None, seed=3)
    augmented, test = make_datasets(x_train, y_train, x_test, y_test, batch_size=96, augment="basic", seed=3)
    plain_images = np.sort(next(iter(plain))[0].numpy().reshape(96, -1), axis=0)
    augmented_images = np.sort(next(iter(augmented))[0].numpy().reshape(96, -1), axis=0)
    assert not np.array_equal(plain_images, augmented_images)
    np.testing.assert_array_equal(next(iter(test))[0].numpy(), x_test.astype("float32"))


def test_labels_outside_range_are_rejected(sample):
    x_train, y_train, x_test, y_test = sample
    bad = y_train.copy()
    bad[5] = 10
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 10\).*\[10\]"):
        make_datasets(x_train, bad, x_test, y_test)
    with pytest.raises(ValueError, match="Labels must lie"):
        make_datasets(x_train, y_train - 1, x_test, y_test)


def test_non_rgb_images_are_rejected(sample):
    x_train, y_train, x_test, y_test = sample
    with pytest.raises(ValueError, match=r"one channel.*np.repeat\(x_train, 3, axis=-1\)"):
        make_datasets(x_train[..., :1], y_train, x_test, y_test)
    with pytest.raises(ValueError, match="Expected RGB x_train"):
        make_datasets(x_train[..., :2], y_train, x_test, y_test)


def test_bad_arguments_are_rejected(sample):
    with pytest.raises(ValueError, match="augment must be one of"):
        make_datasets(*sample, augment="autoaugment")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_datasets(*sample, batch_size=0)
    x_train, y_train, x_test, y_test = sample
    with pytest.raises(ValueError, match="96 images but 95 labels"):
        make_datasets(x_train, y_train[:95], x_test, y_test)


def test_paper_augmentation_is_scaled_like_timm():
    from helpers.pipeline.host import TimmScaledRandAugment

    layer = TimmScaledRandAugment()
    # timm's rand-m9: rotate up to 27 degrees, shift up to 40.5% (Keras' factor 0.9 would allow 324 and 90%)
    assert layer.random_rotation.factor[1] * 360 == pytest.approx(27.0)
    assert layer.random_translation.height_factor == pytest.approx(0.405)
    assert tuple(layer.random_posterization.factor) == (1, 1)  # timm keeps 4 - int(3.6) = 1 bit
    assert tuple(layer.solarization.threshold_factor) == pytest.approx((0.1, 0.1))
    restored = TimmScaledRandAugment.from_config(layer.get_config())
    assert restored.magnitude == 9 and restored.random_rotation.factor == layer.random_rotation.factor
    with pytest.raises(ValueError, match="magnitude"):
        TimmScaledRandAugment(magnitude=12)


def test_random_erasing_probability_is_the_one_asked_for(sample):
    from helpers.pipeline.host import random_erasing_layer

    flat = np.full((1000, 32, 32, 3), 128.0, np.float32)
    erased = np.ptp(np.asarray(random_erasing_layer(0.25, seed=0)(flat)), axis=(1, 2, 3)) > 0
    assert 0.21 < erased.mean() < 0.29  # 250 +- 3.5 sigma of 1000 (Keras' own reading of 0.25: 0.125)
    with pytest.raises(ValueError, match="random_erasing"):
        make_datasets(*sample, augment="paper", random_erasing=1.5)


def test_batch_mixing_switches_off_from_its_epoch(sample):
    from helpers.pipeline.host import BatchMixing

    mixing = BatchMixing(off_epoch=2)
    train, _ = make_datasets(*sample, batch_size=32, augment="paper", seed=1, mixing=mixing)
    mixing.callback.on_epoch_begin(1)
    assert next(iter(train))[1].numpy().max(axis=1).min() < 1.0
    mixing.callback.on_epoch_begin(2)
    assert set(np.unique(next(iter(train))[1].numpy())) == {0.0, 1.0}



def test_without_tensorflow_make_datasets_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorflow(name, *args, **kwargs):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("No module named 'tensorflow'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorflow)
    images = np.zeros((4, 32, 32, 3), "uint8")
    labels = np.zeros(4, "int64")
    with pytest.raises(ImportError, match=r"\[tensorflow\] @ git\+https://.*@v\d"):
        make_datasets(images, labels, images, labels, batch_size=2)
