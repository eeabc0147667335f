"""The CPU path's approximation of the device path: the paper recipe's augmentation in tf.data,
built from Keras' own layers, for TensorFlow on a CPU, where augmenting on the host measured
faster than in the training step (`benchmarks/input_pipeline.py`: cct_2_3x2 on 2 cores, 141
against 89 images/s). Everywhere else `train()` feeds `helpers.pipeline.batches.ImageBatches`
and augments with `helpers.pipeline.on_device`, which follows timm exactly (its module says
where it does not). What still differs here from that path, and so from timm:

- RandAugment: Keras' `RandAugment`, scaled by `TimmScaledRandAugment` to timm's strength at
  magnitude 9. Each Keras operation draws its strength uniformly between none and that cap (on
  average half of it), where timm holds it at 9 +- 0.5 (`mstd0.5`); Keras has 11 operations
  (no Invert; shear and shift move along both axes in one operation; solarize-add is folded
  into solarize), timm 15, and timm skips each chosen operation with probability 0.5, Keras
  always applies it; Keras' brightness adds a shift where PIL (timm) multiplies (the cap shifts
  a mid-grey pixel as far as timm's factor does), and its colour operation only desaturates;
- random-resized crop: tf.image's box sampler and a bicubic resize, where the device path draws
  timm's boxes and resamples once, bilinearly, with the rotate/shear/translate ops folded in;
- random erasing: Keras' `RandomErasing`, with its own box sizes and fill;
- MixUp and CutMix: Keras' layers, which pair each image with a random other one of the batch
  (timm: the batch reversed).

    train_ds, test_ds = make_datasets(x_train, y_train, x_test, y_test, augment="basic")
"""

import keras

from helpers.runtime.checks import check_images_and_labels, check_num_classes, is_whole_number
from helpers.pipeline.draws import AUGMENTATIONS
from helpers.runtime.device import pad_to_replicas

TIMM_MAGNITUDE = 9  # rand-m9
TIMM_MAX_LEVEL = 10.0


def make_datasets(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    batch_size=128,
    augment="basic",
    num_classes=10,
    seed=None,
    random_erasing=0.0,
    mixing=None,
    replicas=1,
):
    """tf.data pipelines (train, test) of (float32 images 0-255, one-hot labels).

    augment:
      None     no augmentation;
      "basic"  random crop after 4-pixel zero padding, and horizontal flip;
      "paper"  the official CIFAR recipe (timm's pipeline): a random-resized crop keeping
               80-100% of the area, horizontal flip, RandAugment at magnitude 9 scaled like
               timm's (`TimmScaledRandAugment`), random erasing with probability
               `random_erasing`, then per batch either MixUp (alpha 0.8) or CutMix (alpha 1.0).
    mixing: a `BatchMixing` to switch MixUp/CutMix off after some epoch (the official run
      stops mixing at epoch 175 of 300); without one the "paper" pipeline mixes every batch.
    The training set is shuffled every epoch and loses its last partial batch; both are batched
    and prefetched.
    replicas: the devices a batch is split over (`helpers.runtime.device.num_replicas`). A test split
      whose size is no multiple of it is padded to one (`pad_to_replicas`) and then yields
      (images, labels, sample weights) whose loss and accuracy are those of the unpadded split;
      make `batch_size` a multiple of it too.
    """
    tf = _tensorflow("make_datasets (tf.data pipelines)")
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}.")
    if not is_whole_number(batch_size, 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not is_whole_number(replicas, 1):
        raise ValueError(f"replicas must be a whole number >= 1, got {replicas!r}.")
    batch_size, num_classes = int(batch_size), check_num_classes(num_classes)
    x_train, y_train = check_images_and_labels(x_train, y_train, num_classes, what="x_train")
    x_test, y_test = check_images_and_labels(x_test, y_test, num_classes, what="x_test")

    def to_training_pair(images, labels):
        return tf.cast(images, tf.float32), tf.one_hot(tf.cast(labels, tf.int32), num_classes)

    train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    train = train.shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
    if augment is not None:
        per_image = _per_image_augmentation(augment, x_train.shape[1:], seed, random_erasing)
        train = train.map(lambda x, y: (per_image(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    train = train.batch(batch_size, drop_remainder=True).map(to_training_pair, num_parallel_calls=tf.data.AUTOTUNE)
    if augment == "paper":
        train = train.map(_mix_batches(seed, mixing or BatchMixing()), num_parallel_calls=tf.data.AUTOTUNE)
    return train.prefetch(tf.data.AUTOTUNE), _test_split(tf, x_test, y_test, batch_size, int(replicas), to_training_pair)


def _test_split(tf, x_test, y_test, batch_size, replicas, to_training_pair):
    """The test split in batches, padded to whole replicas with rows of weight 0 when needed."""
    x_test, y_test, test_weights = pad_to_replicas(x_test, y_test, replicas)
    if test_weights is None:
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size)
        test = test.map(to_training_pair, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test, test_weights)).batch(batch_size)
        test = test.map(lambda x, y, w: (*to_training_pair(x, y), w), num_parallel_calls=tf.data.AUTOTUNE)
    return test.prefetch(tf.data.AUTOTUNE)


def _tensorflow(what):
    """TensorFlow, or an ImportError saying how to install it at this package's range."""
    try:
        import tensorflow as tf
    except ImportError:
        from helpers import INSTALL_SOURCE, PROJECT

        raise ImportError(
            f"{what} needs TensorFlow, which is not installed (a Colab TPU runtime has none). train() does not: "
            "on this backend it feeds ImageBatches and augments on the device. To install it at the range "
            f'this package is tested with (about 600 MB, one to two minutes): %pip install "{PROJECT}[tensorflow] @ '
            f'{INSTALL_SOURCE}"'
        ) from None
    return tf


def _per_image_augmentation(augment, image_shape, seed, random_erasing):
    import tensorflow as tf

    height, width, _ = image_shape
    if augment == "paper":
        rand_augment = TimmScaledRandAugment(seed=seed)
        erase = random_erasing_layer(random_erasing, seed)

    def pad_and_crop(image):
        image = tf.image.resize_with_crop_or_pad(image, height + 8, width + 8)
        return tf.image.random_crop(image, image_shape, seed=seed)

    def random_resized_crop(image):
        # timm's RandomResizedCrop with the official scale (0.8, 1) and ratio (3/4, 4/3).
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(image), tf.zeros([0, 0, 4]), seed=seed, aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.8, 1.0), max_attempts=10, use_image_if_no_bounding_boxes=True,
        )
        crop = tf.image.resize(tf.slice(image, begin, size), (height, width), method="bicubic")
        return tf.ensure_shape(crop, image_shape)  # the slice's size is known only when it runs

    def augment_image(image):
        if augment == "basic":
            return tf.image.random_flip_left_right(pad_and_crop(image), seed=seed)
        image = tf.image.random_flip_left_right(random_resized_crop(tf.cast(image, tf.float32)), seed=seed)
        image = rand_augment(tf.clip_by_value(image, 0.0, 255.0))
        image = erase(image)
        return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)

    return augment_image


class BatchMixing:
    """Whether the "paper" pipeline mixes batches (MixUp or CutMix), switched off from
    `off_epoch` on by the Keras callback `self.callback` (None: mix in every epoch)."""

    def __init__(self, off_epoch=None):
        import tensorflow as tf

        self.off_epoch = off_epoch
        self.active = tf.Variable(True, trainable=False, name="batch_mixing_active")
        mixing = self

        class SwitchOff(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                mixing.active.assign(mixing.off_epoch is None or epoch < mixing.off_epoch)

        self.callback = SwitchOff()


def _mix_batches(seed, mixing):
    import tensorflow as tf

    mixup = keras.layers.MixUp(alpha=0.8, seed=seed)
    cutmix = keras.layers.CutMix(factor=1.0, seed=seed)

    def mix(images, labels):
        def mixed():
            batch = {"images": images, "labels": labels}
            out = tf.cond(tf.random.uniform([], seed=seed) < 0.5, lambda: mixup(batch), lambda: cutmix(batch))
            # Blending in float32 can overshoot 255 by a rounding error.
            return tf.clip_by_value(out["images"], 0.0, 255.0), out["labels"]

        return tf.cond(mixing.active, mixed, lambda: (images, labels))

    return mix




@keras.saving.register_keras_serializable(package="cct")
class TimmScaledRandAugment(keras.layers.RandAugment):
    """Keras' RandAugment with each operation capped at timm's strength for `magnitude`
    (0-10, the paper's 9), on images with values 0-255."""

    def __init__(self, magnitude=TIMM_MAGNITUDE, num_ops=2, seed=None, **kwargs):
        if not 0 <= magnitude <= TIMM_MAX_LEVEL:
            raise ValueError(f"magnitude must lie in [0, 10] like timm's, got {magnitude!r}.")
        kwargs.pop("factor", None)  # the operations' strengths come from `magnitude`
        kwargs.pop("value_range", None)
        super().__init__(value_range=(0, 255), num_ops=num_ops, factor=magnitude / TIMM_MAX_LEVEL, seed=seed, **kwargs)
        self.magnitude = magnitude
        level = magnitude / TIMM_MAX_LEVEL
        enhance = 0.9 * level  # timm's *Increasing enhancements: PIL factor 1 +- 0.9 * level
        common = dict(seed=seed, data_format=self.data_format)
        self.random_rotation = keras.layers.RandomRotation(30.0 * level / 360.0, **common)
        self.random_shear = keras.layers.RandomShear(0.3 * level, 0.3 * level, **common)
        self.random_translation = keras.layers.RandomTranslation(0.45 * level, 0.45 * level, **common)
        self.random_brightness = keras.layers.RandomBrightness(enhance / 2, value_range=(0, 255), **common)
        self.random_color_degeneration = keras.layers.RandomColorDegeneration(enhance, **common)
        self.random_contrast = keras.layers.RandomContrast(enhance, value_range=(0, 255), **common)
        # Keras' sharpness factor is PIL's halved: 0.5 leaves the image as it is.
        self.random_sharpness = keras.layers.RandomSharpness(
            (0.5 - enhance / 2, 0.5 + enhance / 2), value_range=(0, 255), **common
        )
        # timm's SolarizeIncreasing inverts pixels above 256 * (1 - level).
        self.solarization = keras.layers.Solarization(
            threshold_factor=(1.0 - level, 1.0 - level), value_range=(0, 255), **common
        )
        # timm's PosterizeIncreasing keeps 4 - int(4 * level) bits (at least 1 in Keras).
        self.random_posterization = keras.layers.RandomPosterization(
            factor=max(1, 4 - int(4 * level)), value_range=(0, 255), **common
        )

    def get_config(self):
        config = super().get_config()
        for key in ("factor", "value_range"):
            config.pop(key, None)
        return {**config, "magnitude": self.magnitude}


def random_erasing_layer(probability, seed=None):
    """Keras' RandomErasing that erases each image with exactly `probability` (timm's reprob).
    Keras reads a single float p as a range: it would draw each image's probability from [0, p]."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"random_erasing is a probability in [0, 1], got {probability!r}.")
    return keras.layers.RandomErasing(factor=(probability, probability), value_range=(0, 255), seed=seed)
