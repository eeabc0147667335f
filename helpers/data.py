"""CIFAR-10: loading it (online, from a local folder, or the small sample shipped here) and
the tf.data input pipelines that feed training.

    (x_train, y_train), (x_test, y_test) = load_cifar10()         # like keras.datasets
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()  # 4000 + 1000 real images, offline
    train_ds, test_ds = make_datasets(x_train, y_train, x_test, y_test, augment="basic")
    train = ImageBatches(x_train, y_train, 128, augment="paper", seed=0)  # augmented on the device

Images stay raw (uint8, 0-255, shape (N, 32, 32, 3)): the models normalise inside.
"""

import functools
import io
import numbers
import os
import pickle
from pathlib import Path

import numpy as np

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
SAMPLE_PATH = Path(__file__).parent / "assets" / "cifar10_sample.npz"
AUGMENTATIONS = (None, "basic", "paper")


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


def check_images(images, what="images"):
    """`images` as a NumPy array, after checking that they are what the models and the data
    functions expect: a batch of RGB images, shape (N, height, width, 3), with raw pixel values
    0-255. Anything else raises a ValueError saying what was found and what to pass."""
    images = np.asarray(images)
    if images.dtype == object or not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{what} must be a numeric array of pixel values 0-255, got dtype {images.dtype}.")
    if images.ndim == 3 and images.shape[-1] == 3:
        raise ValueError(
            f"{what} has shape {images.shape}: one image without the batch axis. Pass a batch of one: "
            f"{what}[None] (or np.expand_dims({what}, 0)), shape (1, {', '.join(map(str, images.shape))})."
        )
    if images.ndim == 3:
        raise ValueError(
            f"{what} has shape {images.shape}: grayscale images (N, height, width)? The models take RGB: "
            f"np.repeat({what}[..., None], 3, axis=-1)."
        )
    if images.ndim == 4 and images.shape[-1] == 1:
        raise ValueError(
            f"{what} has shape {images.shape}: one channel. The models take RGB: np.repeat({what}, 3, axis=-1)."
        )
    if images.ndim == 4 and images.shape[1] == 3 and images.shape[-1] != 3:
        raise ValueError(
            f"{what} has shape {images.shape}: channels first. Pass channels last: np.transpose({what}, (0, 2, 3, 1))."
        )
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"Expected RGB {what} of shape (N, height, width, 3), got {images.shape}. "
            "Grayscale images can be repeated over 3 channels (np.repeat(x, 3, axis=-1))."
        )
    if len(images) == 0:
        raise ValueError(f"{what} is an empty batch, shape {images.shape}: pass at least one image.")
    check_pixel_values(images, what)
    return images


def check_pixel_values(images, what="images"):
    """Raise a ValueError when pixel values are not raw 0-255: NaN or infinite values, values
    below 0 or above 255, or all of them within [0, 1] (images already divided by 255)."""
    low, high = images.min(), images.max()  # NaN and infinities show in these, so the common case costs two passes
    if not (np.isfinite(low) and np.isfinite(high)):
        finite = np.isfinite(images)
        raise ValueError(
            f"{what} holds {images.size - np.count_nonzero(finite)} NaN or infinite pixel values "
            f"(in {np.count_nonzero(~finite.reshape(len(images), -1).all(axis=1))} image(s)); "
            "pass images whose pixels are all numbers 0-255."
        )
    if low < 0 or high > 255:
        hint = " (scaled to [-1, 1]?)" if low >= -1 and high <= 1 else ""
        raise ValueError(
            f"{what} has pixel values from {low:g} to {high:g}{hint}; the models and the data functions expect "
            "raw pixels 0-255 (they normalise inside). Pass the images as loaded, e.g. by load_cifar10()."
        )
    if 0 < high <= 1:
        raise ValueError(
            f"{what} has pixel values from {low:g} to {high:g}: scaled to [0, 1] (x / 255.)? The models and "
            "the data functions expect raw pixels 0-255 (they normalise inside): pass the images unscaled "
            "(or multiply by 255)."
        )


def check_images_and_labels(images, labels, num_classes, what="images"):
    """Raise a ValueError naming the problem if images are not (N, H, W, 3) raw pixels or labels are off."""
    num_classes = check_num_classes(num_classes)
    images, labels = check_images(images, what), np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        raise ValueError(
            f"Labels have shape {labels.shape}: one-hot or scores? Pass integer class indices, shape (N,) or "
            "(N, 1): np.argmax(labels, axis=-1)."
        )
    labels = labels.reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"Labels must be integer class indices, got dtype {labels.dtype}: if they are whole numbers, pass "
            "labels.astype(int)."
        )
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(
            f"Labels must lie in [0, {num_classes}); found {bad.size} outside, e.g. {sorted(set(bad.tolist()))[:5]}. "
            "Pass the right num_classes or fix the labels."
        )
    return images, labels


def is_whole_number(value, minimum=None):
    """True for a Python or NumPy integer (not a bool) that is at least `minimum`, if given."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    return whole and (minimum is None or value >= minimum)


def check_num_classes(num_classes):
    """num_classes as a plain int (NumPy integers welcome); a ValueError unless it is a whole number >= 2."""
    if not is_whole_number(num_classes, 2):
        raise ValueError(f"num_classes must be a whole number >= 2, got {num_classes!r}.")
    return int(num_classes)


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
               timm's (`helpers.augmentation`), random erasing with probability
               `random_erasing`, then per batch either MixUp (alpha 0.8) or CutMix (alpha 1.0).
    mixing: a `BatchMixing` to switch MixUp/CutMix off after some epoch (the official run
      stops mixing at epoch 175 of 300); without one the "paper" pipeline mixes every batch.
    The training set is shuffled every epoch and loses its last partial batch; both are batched
    and prefetched.
    replicas: the devices a batch is split over (`helpers.device.num_replicas`). A test split
      whose size is no multiple of it is padded to one (`pad_to_replicas`) and then yields
      (images, labels, sample weights) whose loss and accuracy are those of the unpadded split;
      make `batch_size` a multiple of it too.
    """
    tf = _tensorflow("make_datasets (tf.data pipelines)")

    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}.")
    if not is_whole_number(batch_size, 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
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
    train = train.prefetch(tf.data.AUTOTUNE)

    if not is_whole_number(replicas, 1):
        raise ValueError(f"replicas must be a whole number >= 1, got {replicas!r}.")
    x_test, y_test, test_weights = pad_to_replicas(x_test, y_test, int(replicas))
    if test_weights is None:
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(batch_size)
        test = test.map(to_training_pair, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test, test_weights)).batch(batch_size)
        test = test.map(lambda x, y, w: (*to_training_pair(x, y), w), num_parallel_calls=tf.data.AUTOTUNE)
    return train, test.prefetch(tf.data.AUTOTUNE)


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


def pad_to_replicas(images, labels, replicas, sample_weight=None):
    """(images, labels, sample_weight) with rows of zeros appended up to a multiple of `replicas`,
    so that a batch of them splits evenly over the devices (JAX's data parallelism refuses a
    batch that does not). The padding rows weigh 0 and the real rows `sample_weight` (1 when
    None) times padded/real rows, so that Keras' evaluation of the padded set, whose loss is
    summed over the real rows but averaged over all of them, gives the loss and the metrics of
    the unpadded set (for the default loss reduction, "sum_over_batch_size").
    Nothing to pad: the inputs, unchanged."""
    count = len(images)
    padded = -(-count // replicas) * replicas
    if padded == count:
        return images, labels, sample_weight
    weights = np.ones(count, "float32") if sample_weight is None else np.asarray(sample_weight, "float32")
    weights = weights * np.float32(padded / count)

    def pad(array):
        array = np.asarray(array)
        return np.concatenate([array, np.zeros((padded - count, *array.shape[1:]), array.dtype)])

    return pad(images), pad(labels), pad(weights)


def _per_image_augmentation(augment, image_shape, seed, random_erasing):
    import tensorflow as tf

    from helpers.augmentation import TimmScaledRandAugment, random_erasing as erasing_layer

    height, width, _ = image_shape
    if augment == "paper":
        rand_augment = TimmScaledRandAugment(seed=seed)
        erase = erasing_layer(random_erasing, seed)

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
        import keras
        import tensorflow as tf

        self.off_epoch = off_epoch
        self.active = tf.Variable(True, trainable=False, name="batch_mixing_active")
        mixing = self

        class SwitchOff(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                mixing.active.assign(mixing.off_epoch is None or epoch < mixing.off_epoch)

        self.callback = SwitchOff()


def _mix_batches(seed, mixing):
    import keras
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


def __getattr__(name):
    # ImageBatches subclasses keras.utils.PyDataset: build it on first use, so that importing
    # helpers.data (CLASS_NAMES, the loaders) does not import Keras and fix its backend.
    if name == "ImageBatches":
        globals()[name] = _image_batches_class()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _image_batches_class():
    import keras

    class ImageBatches(keras.utils.PyDataset):
        """Batches of in-memory uint8 images for `model.fit`, with the augmentation's random numbers
        drawn here in NumPy and its pixel work left to the model, on the device
        (`helpers.device_augmentation`; `CompactTransformer` applies it when training).

            train = ImageBatches(x_train, y_train, 128, augment="paper", seed=0, mix_off_epoch=175)
            test = ImageBatches(x_test, y_test, 128)                 # plain images, every one, in order
            model.fit(train, epochs=300, validation_data=test)

        augment: None yields (uint8 images, one-hot labels), like a test set; "basic" (4-pixel pad,
        random crop, flip) and "paper" (random-resized crop, flip, timm's RandAugment m9, random
        erasing with probability `random_erasing`, MixUp or CutMix per batch until `mix_off_epoch`)
        yield ({"images": uint8 images, "augment": {parameter arrays}}, float32 soft labels).
        shuffle / drop_remainder: default True when augmenting (a training set), False otherwise.
        steps_per_epoch: batches per epoch, cycling through the images (each pass in a new order)
          as often as needed; default one pass.
        The order and the draws of batch b in epoch e depend only on (seed, e, b), so a run resumed
        at epoch k (`initial_epoch=k`, or `set_epoch(k)`) sees what an uninterrupted run would. The
        epoch follows `fit`'s through `epoch_callback` (added by `CompactTransformer.fit`; with
        another model pass it in `callbacks`), and advances in `on_epoch_end` without it.
        No TensorFlow: with the JAX backend nothing here imports it.
        """

        def __init__(
            self,
            images,
            labels,
            batch_size=128,
            *,
            augment=None,
            num_classes=10,
            seed=None,
            shuffle=None,
            drop_remainder=None,
            random_erasing=0.0,
            mix_off_epoch=None,
            initial_epoch=0,
            steps_per_epoch=None,
            **kwargs,
        ):
            super().__init__(**kwargs)
            if augment not in AUGMENTATIONS:
                raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {augment!r}.")
            if not is_whole_number(batch_size, 1):
                raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
            if not 0.0 <= random_erasing <= 1.0:
                raise ValueError(f"random_erasing is a probability in [0, 1], got {random_erasing!r}.")
            self.num_classes = check_num_classes(num_classes)
            images, labels = check_images_and_labels(images, labels, self.num_classes)
            self.images = np.ascontiguousarray(images, dtype=np.uint8)
            self.labels = labels.astype(np.int64)
            self.batch_size = int(batch_size)
            self.augment = augment
            self.shuffle = augment is not None if shuffle is None else bool(shuffle)
            self.drop_remainder = augment is not None if drop_remainder is None else bool(drop_remainder)
            if self.drop_remainder and len(self.images) < self.batch_size:
                raise ValueError(f"{len(self.images)} images make no full batch of {self.batch_size}.")
            self.seed = int(np.random.SeedSequence().entropy % 2**32) if seed is None else int(seed)
            self.random_erasing = float(random_erasing)
            self.mix_off_epoch = mix_off_epoch
            self._eye = np.eye(self.num_classes, dtype=np.float32)
            if steps_per_epoch is not None and not is_whole_number(steps_per_epoch, 1):
                raise ValueError(f"steps_per_epoch must be a whole number >= 1 (or None: one pass), got {steps_per_epoch!r}.")
            self.steps_per_epoch = None if steps_per_epoch is None else int(steps_per_epoch)
            self.set_epoch(initial_epoch)

        def set_epoch(self, epoch):
            """Make the coming batches those of `epoch` (0-based), e.g. when resuming a run."""
            self.epoch = int(epoch)
            count = len(self.images)
            passes = 1 if self.steps_per_epoch is None else -(-self.steps_per_epoch * self.batch_size // count)
            if self.shuffle:
                orders = [np.random.default_rng([self.seed, self.epoch, p]).permutation(count) for p in range(passes)]
            else:
                orders = [np.arange(count)] * passes
            self._order = np.concatenate(orders)

        @property
        def mixing(self):
            """Whether this epoch's batches are mixed (MixUp/CutMix: "paper" only)."""
            return self.augment == "paper" and (self.mix_off_epoch is None or self.epoch < self.mix_off_epoch)

        def __len__(self):
            if self.steps_per_epoch is not None:
                return self.steps_per_epoch
            whole, rest = divmod(len(self.images), self.batch_size)
            return whole + (rest > 0 and not self.drop_remainder)

        def __getitem__(self, index):
            from helpers import augment_params

            if not 0 <= index < len(self):
                raise IndexError(f"batch {index} of {len(self)}")
            rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
            images, labels = self.images[rows], self.labels[rows]
            if self.augment is None:
                return images, self._eye[labels]
            rng = np.random.default_rng([self.seed, self.epoch, index])
            shape = images.shape[1:3]
            if self.augment == "basic":
                return {"images": images, "augment": augment_params.sample_basic_params(rng, len(rows), shape)}, self._eye[labels]
            params, soft = augment_params.sample_paper_params(
                rng, labels, self.num_classes, shape, random_erasing=self.random_erasing, mix=self.mixing
            )
            return {"images": images, "augment": params}, soft

        def on_epoch_end(self):
            self.set_epoch(self.epoch + 1)

        def __getstate__(self):  # for worker processes: the callback stays here
            return {**self.__dict__, "_epoch_callback": None}

        @property
        def epoch_callback(self):
            """A Keras callback that sets this data set's epoch to the one `fit` begins (with its
            `initial_epoch`). Keras also calls `on_epoch_end` once before training starts (after
            reading a batch to learn the data's structure), so counting those alone runs one epoch
            ahead; `CompactTransformer.fit` adds this callback by itself."""
            import keras

            if getattr(self, "_epoch_callback", None) is None:
                batches = self

                class SetEpoch(keras.callbacks.Callback):
                    def on_epoch_begin(self, epoch, logs=None):
                        batches.set_epoch(epoch)

                self._epoch_callback = SetEpoch()
            return self._epoch_callback

    ImageBatches.__qualname__ = "ImageBatches"  # picklable as helpers.data.ImageBatches
    return ImageBatches
