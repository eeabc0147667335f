"""The model class `create_model` returns: the plain model of `helpers.models`, with what a user
of it needs around it (the Task to the plain model's Backbone, in keras-hub's words).

    model = ImageClassifier.wrap(build_compact_transformer(...))   # what create_model does

It is a functional Keras model over the very same layers (same weights, same summary), whose
`__call__`, `predict`, `evaluate` and `fit`:
- check the images they are given: raw RGB pixels 0-255 of the model's size, a batch axis, at
  least one image, no NaN (`helpers.runtime.checks`), outside the compiled step (tensors on their device);
- pad NumPy inputs to a whole number of replicas on several devices (`helpers.runtime.device`),
  since JAX splits only batches that divide evenly over the devices: `predict` drops the padded
  rows' outputs, `evaluate` weighs them 0 (`pad_to_replicas`), so results are those of the images given;
- augment on the device inside the training step when fed by
  `helpers.pipeline.batches.ImageBatches` ({"images": uint8, "augment": parameters}), with the
  pixel work that module registers here (`use_device_augmentation`: `helpers.pipeline.on_device`),
  and otherwise take the images as they are. This adds no weights.
"""

import numpy as np

import keras

from helpers.runtime.checks import check_images


@keras.saving.register_keras_serializable(package="cct")
class ImageClassifier(keras.Model):
    """A functional model from raw images (0-255) to logits, with input checks, padding over
    replicas and on-device augmentation (see the module's docstring)."""

    @classmethod
    def wrap(cls, model):
        """The same layers as the functional `model`, as an ImageClassifier."""
        return cls(model.input, model.output, name=model.name)

    def __call__(self, inputs, *args, **kwargs):
        inputs = _augmented(inputs, kwargs.get("training", args[0] if args else None))
        return super().__call__(self._checked(inputs), *args, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        # JAX's training step reaches `call` through `stateless_call`, past `__call__`.
        return super().call(_augmented(inputs, training), training=training, mask=mask, **kwargs)

    def _checked(self, images):
        """NumPy images and eager tensors checked whole; symbolic tensors only by their shape, which costs nothing."""
        if isinstance(images, (np.ndarray, list)):
            images = check_images(images)
        elif getattr(images, "shape", None) is not None:
            from helpers.runtime.device import check_tensor_images  # on their device; building a model needs none
            check_tensor_images(images)
        shape = getattr(images, "shape", None)
        expected = tuple(self.input_shape[1:])
        if shape is not None and tuple(shape[1:]) != expected:
            height, width, _ = expected
            raise ValueError(
                f"The model expects RGB images of shape (N, {height}, {width}, 3) with pixel values 0-255, got shape "
                f"{tuple(shape)}. Resize images to {height}x{width} (or build the model with image_size=...), and "
                "repeat grayscale images over 3 channels (np.repeat(x, 3, axis=-1))."
            )
        return images

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        from helpers.runtime import device  # the devices are asked when data comes, not when a model is built

        x = self._checked(x)
        replicas = device.num_replicas(self)
        if replicas == 1 or steps is not None or not isinstance(x, np.ndarray):
            return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        count = len(x)
        padded = np.concatenate([x, np.zeros((-count % replicas, *x.shape[1:]), x.dtype)])
        outputs = super().predict(padded, batch_size=device.whole_replicas(batch_size, replicas), verbose=verbose, callbacks=callbacks)
        return keras.tree.map_structure(lambda output: output[:count], outputs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, **kwargs):
        from helpers.runtime import device

        x = self._checked(x)
        replicas = device.num_replicas(self)
        # fit passes _use_cached_eval_dataset=True for its validation data, which fit has padded.
        if replicas > 1 and steps is None and "_use_cached_eval_dataset" not in kwargs and _arrays(x, y):
            if len(x) % replicas:
                _check_padding_is_exact(self, replicas, f"{len(x)} images do not split evenly over {replicas} replicas")
                x, y, sample_weight = device.pad_to_replicas(x, y, replicas, sample_weight)
            batch_size = device.whole_replicas(batch_size, replicas)
        return super().evaluate(x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight, steps=steps, **kwargs)

    def fit(self, x=None, *args, **kwargs):
        from helpers.runtime import device

        callback = getattr(x, "epoch_callback", None)  # ImageBatches: follow fit's epochs
        if callback is not None:
            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = callbacks + [callback] * (callback not in callbacks)
        validation = kwargs.get("validation_data")
        replicas = device.num_replicas(self)
        if isinstance(validation, (tuple, list)) and 2 <= len(validation) <= 3:
            images, labels, *weights = validation
            images = self._checked(images)  # now, not when the first epoch ends
            if replicas > 1 and _arrays(images, labels) and len(images) % replicas:
                _check_padding_is_exact(self, replicas, f"{len(images)} validation images do not split evenly over {replicas} replicas")
                kwargs["validation_data"] = device.pad_to_replicas(images, labels, replicas, *weights)
        return super().fit(self._checked(x), *args, **kwargs)


# The pixel work of batches of {"images", "augment"}: registered by the pipeline that makes them, so
# that the model (machinery below the pipeline) needs no import of it.
_device_augmentation = None


def use_device_augmentation(augment_batch):
    """Make models augment batches of {"images", "augment"} with `augment_batch(images, params)`
    inside their training step (`helpers.pipeline.batches` registers `helpers.pipeline.on_device`'s)."""
    global _device_augmentation
    _device_augmentation = augment_batch


def _augmented(inputs, training):
    """The images of a batch from `ImageBatches` ({"images", "augment"}): augmented on the
    device when training, else as they are. Anything else passes unchanged."""
    if not (isinstance(inputs, dict) and set(inputs) == {"images", "augment"}):
        return inputs
    if training:
        if _device_augmentation is None:
            raise ValueError(
                'Batches of {"images", "augment"} are augmented by the pipeline that makes them: feed the model '
                "helpers.pipeline.batches.ImageBatches (importing that module registers the augmentation)."
            )
        return _device_augmentation(inputs["images"], inputs["augment"])
    return keras.ops.cast(inputs["images"], "float32")


def _arrays(images, labels):
    """Images and labels as NumPy arrays of one length: what predict/evaluate/fit can pad."""
    return isinstance(images, np.ndarray) and isinstance(labels, np.ndarray) and len(images) == len(labels)


def _check_padding_is_exact(model, replicas, why):
    """Zero-weight padding rows leave the loss and the metrics as they are only for Keras'
    default loss reduction and for weighted metrics (`compile_model` compiles so)."""
    reduction = getattr(model.loss, "reduction", "sum_over_batch_size")
    unweighted = getattr(getattr(model, "_compile_metrics", None), "_user_metrics", None)
    if reduction != "sum_over_batch_size" or unweighted:
        raise ValueError(
            f"{why}, and padding them with rows of weight 0 would change "
            + (f"a loss of reduction {reduction!r}" if reduction != "sum_over_batch_size" else "metrics that ignore sample weights")
            + f": pass a multiple of {replicas} images, or compile with the default loss reduction and "
            "the metrics as weighted_metrics (helpers.recipes.compile_model does)."
        )


@keras.saving.register_keras_serializable(package="cct")
class ImageCheck(keras.layers.Layer):
    """The first layer of the models that version 0.2 saved (it checked the input's shape, which
    `ImageClassifier` now does): kept, as the identity, so that their .keras files still load."""

    def __init__(self, height, width, **kwargs):
        super().__init__(**kwargs)
        self.height = height
        self.width = width

    def call(self, images):
        return images

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}


# Version 0.2 saved this class as "cct>CompactTransformer": its .keras files load as ImageClassifier.
keras.saving.get_custom_objects()["cct>CompactTransformer"] = ImageClassifier
