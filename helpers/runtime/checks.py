"""Clear errors for wrong input: images that are not raw RGB pixels 0-255 in a batch, labels
that are not class indices, counts that are not whole numbers. Each check says what it found
and what to pass instead. The data functions, plots and the model class (`helpers.runtime.classifier`;
for tensors through `helpers.runtime.device.check_tensor_images`) all check through here.
"""

import numbers

import numpy as np


def check_images(images, what="images"):
    """`images` as a NumPy array, after checking that they are what the models and the data
    functions expect: a batch of RGB images, shape (N, height, width, 3), with raw pixel values
    0-255. Anything else raises a ValueError saying what was found and what to pass."""
    images = np.asarray(images)
    if images.dtype == object or not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{what} must be a numeric array of pixel values 0-255, got dtype {images.dtype}.")
    check_image_shape(images.shape, what)
    check_pixel_values(images, what)
    return images


def check_image_shape(shape, what="images"):
    """Raise a ValueError unless `shape` is (N, height, width, 3): N > 0 RGB images (a size may be None: unknown)."""
    if len(shape) == 3 and shape[-1] == 3:
        raise ValueError(
            f"{what} has shape {shape}: one image without the batch axis. Pass a batch of one: "
            f"{what}[None] (or np.expand_dims({what}, 0)), shape (1, {', '.join(map(str, shape))})."
        )
    if len(shape) == 3:
        raise ValueError(
            f"{what} has shape {shape}: grayscale images (N, height, width)? The models take RGB: "
            f"np.repeat({what}[..., None], 3, axis=-1)."
        )
    if len(shape) == 4 and shape[-1] == 1:
        raise ValueError(
            f"{what} has shape {shape}: one channel. The models take RGB: np.repeat({what}, 3, axis=-1)."
        )
    if len(shape) == 4 and shape[1] == 3 and shape[-1] != 3:
        raise ValueError(
            f"{what} has shape {shape}: channels first. Pass channels last: np.transpose({what}, (0, 2, 3, 1))."
        )
    if len(shape) != 4 or shape[-1] != 3:
        raise ValueError(
            f"Expected RGB {what} of shape (N, height, width, 3), got {shape}. "
            "Grayscale images can be repeated over 3 channels (np.repeat(x, 3, axis=-1))."
        )
    if shape[0] == 0:
        raise ValueError(f"{what} is an empty batch, shape {shape}: pass at least one image.")


# Float augmentations overshoot a hair (Keras' RandAugment on JAX returns 255.00002): a hundredth of
# a level either side of 0-255 is rounding, not a wrong scale.
PIXEL_ROUNDING = 0.01


def check_pixel_values(images, what="images", extremes=None):
    """Raise a ValueError when pixel values are not raw 0-255: NaN or infinite, below 0 or above 255, or all
    within [0, 1] (divided by 255 already). `extremes`: their lowest and highest, if known (from a device)."""
    low, high = (images.min(), images.max()) if extremes is None else extremes  # NaN and infinities show in these
    if not (np.isfinite(low) and np.isfinite(high)):
        finite = np.isfinite(np.asarray(images))  # only now: a tensor comes to the host to count them
        raise ValueError(
            f"{what} holds {finite.size - np.count_nonzero(finite)} NaN or infinite pixel values "
            f"(in {np.count_nonzero(~finite.reshape(len(images), -1).all(axis=1))} image(s)); "
            "pass images whose pixels are all numbers 0-255."
        )
    if low < -PIXEL_ROUNDING or high > 255 + PIXEL_ROUNDING:
        hint = " (scaled to [-1, 1]?)" if low >= -1 and high <= 1 else ""
        raise ValueError(
            f"{what} has pixel values from {float(low):.9g} to {float(high):.9g}{hint}; the models and the data "
            "functions expect raw pixels 0-255 (they normalise inside). Pass the images as loaded, e.g. by "
            "load_cifar10(), or clip what an augmentation returns: np.clip(images, 0, 255)."
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
    """num_classes as a plain int (NumPy integers welcome); a ValueError unless it is a whole number
    from 2 to 100,000 (more classes than ImageNet-21k's cannot be meant here)."""
    if not (is_whole_number(num_classes, 2) and num_classes <= 100_000):
        raise ValueError(f"num_classes must be a whole number from 2 to 100,000, got {num_classes!r}.")
    return int(num_classes)
