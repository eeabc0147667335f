"""Batches of in-memory uint8 images for `model.fit`, with the augmentation's random numbers
drawn here on the host (`helpers.pipeline.draws`, NumPy) and its pixel work left to the model,
on the device (`helpers.pipeline.on_device`). No TensorFlow: the JAX backend trains without it.
"""

import numpy as np

import keras

from helpers.pipeline import draws
from helpers.pipeline.draws import AUGMENTATIONS
from helpers.pipeline.on_device import augment_batch
from helpers.runtime.checks import check_images_and_labels, check_num_classes, is_whole_number
from helpers.runtime.classifier import use_device_augmentation

# What these batches ask for, the model does inside its training step.
use_device_augmentation(augment_batch)


class ImageBatches(keras.utils.PyDataset):
    """Batches of in-memory uint8 images for `model.fit`, with the augmentation's random numbers
    drawn here in NumPy and its pixel work left to the model, on the device
    (`helpers.pipeline.on_device`; `ImageClassifier` applies it when training).

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
    epoch follows `fit`'s through `epoch_callback` (added by `ImageClassifier.fit`; with
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
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        images, labels = self.images[rows], self.labels[rows]
        if self.augment is None:
            return images, self._eye[labels]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        shape = images.shape[1:3]
        if self.augment == "basic":
            return {"images": images, "augment": draws.sample_basic_params(rng, len(rows), shape)}, self._eye[labels]
        params, soft = draws.sample_paper_params(
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
        ahead; `ImageClassifier.fit` adds this callback by itself."""
        if getattr(self, "_epoch_callback", None) is None:
            batches = self

            class SetEpoch(keras.callbacks.Callback):
                def on_epoch_begin(self, epoch, logs=None):
                    batches.set_epoch(epoch)

            self._epoch_callback = SetEpoch()
        return self._epoch_callback
