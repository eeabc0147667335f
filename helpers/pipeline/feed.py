"""What `train()` hands to `model.fit`: the training batches and the validation data, on the path
that suits the backend and the device (see `helpers.pipeline`)."""

from dataclasses import dataclass, field

import numpy as np

import keras

from helpers.recipes import full_batches
from helpers.runtime.device import accelerator


def augments_on_device():
    """Where `train()` augments: on the device, inside the training step, for every backend but
    TensorFlow and for TensorFlow on a GPU or TPU (the host only feeds uint8 batches, so 2 vCPUs
    keep up); on the host with tf.data for TensorFlow on a CPU, where it measured faster
    (`benchmarks/input_pipeline.py`: cct_2_3x2 on 2 cores, 141 against 89 images/s)."""
    return keras.backend.backend() != "tensorflow" or accelerator() != "CPU"


@dataclass
class TrainingData:
    """The data of one training run, as `model.fit` takes it."""

    train: object  # ImageBatches (augmented on the device) or a tf.data set (augmented on the host)
    validation: object  # (images, one-hot labels) arrays, or a tf.data set
    steps_per_epoch: int  # optimizer steps between two evaluations
    on_device: bool
    batch_size: int
    callbacks: list = field(default_factory=list)  # what must run with fit (tf.data's MixUp/CutMix switch)

    def fit_arguments(self):
        """The keyword arguments of `model.fit` (and `helpers.runtime.loop.resumable_fit`) that
        depend on the path: ImageBatches knows its own length, a repeated tf.data set does not."""
        if self.on_device:
            return dict(steps_per_epoch=None, validation_batch_size=self.batch_size)
        return dict(steps_per_epoch=self.steps_per_epoch, validation_batch_size=None)

    def evaluate(self, model):
        """(loss, accuracy) of `model` on the validation data."""
        if self.on_device:
            return model.evaluate(*self.validation, batch_size=self.batch_size, verbose=0)
        return model.evaluate(self.validation, verbose=0)


def training_data(data, recipe, *, num_classes, seed, steps_per_epoch=None, replicas=1):
    """`data` = ((x_train, y_train), (x_test, y_test)) for `model.fit` with `recipe`'s batch and
    augmentation: uint8 batches augmented on the device (`helpers.pipeline.batches.ImageBatches`),
    or tf.data augmenting on the host (`helpers.pipeline.host`). `steps_per_epoch` fixes the
    optimizer steps between two evaluations, cycling through the images (None: one pass)."""
    (x_train, y_train), (x_test, y_test) = data
    if augments_on_device():
        from helpers.pipeline.batches import ImageBatches

        batches = ImageBatches(
            x_train, y_train, recipe.batch_size, augment=recipe.augment, num_classes=num_classes, seed=seed,
            shuffle=True, drop_remainder=True, random_erasing=recipe.random_erasing,
            mix_off_epoch=recipe.mix_off_epoch, steps_per_epoch=steps_per_epoch,
        )
        validation = (x_test, np.eye(num_classes, dtype="float32")[y_test])  # the model pads it over replicas
        return TrainingData(batches, validation, len(batches), True, recipe.batch_size)
    from helpers.pipeline.host import BatchMixing, make_datasets

    mixing = BatchMixing(recipe.mix_off_epoch) if recipe.augment == "paper" else None
    train, test = make_datasets(
        x_train, y_train, x_test, y_test, batch_size=recipe.batch_size, augment=recipe.augment,
        num_classes=num_classes, seed=seed, random_erasing=recipe.random_erasing, mixing=mixing, replicas=replicas,
    )
    callbacks = [mixing.callback] if mixing else []
    if steps_per_epoch is None:
        return TrainingData(train, test, full_batches(len(x_train), recipe.batch_size), False, recipe.batch_size, callbacks)
    return TrainingData(train.repeat(), test, steps_per_epoch, False, recipe.batch_size, callbacks)
