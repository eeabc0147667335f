"""The random draws of the paper recipe's augmentation, made on the host in NumPy only.

The pixel work runs on the device (`helpers.pipeline.on_device.augment_batch`); this module
draws, for a batch, every random number that work needs, per image, with a seeded
`np.random.Generator`. It imports neither TensorFlow nor Keras, so the JAX backend trains
without TensorFlow and the host only gathers uint8 images and a few small arrays.

The numbers follow timm (`rand-m9-mstd0.5-inc1`, `RandomResizedCropAndInterpolation`,
`RandomErasing`, `Mixup`), read from timm's `data/auto_augment.py`, `transforms.py`,
`random_erasing.py` and `mixup.py`:

- random-resized crop: up to 10 tries of an area share ~ U(0.8, 1) and a log-uniform aspect
  ratio in (3/4, 4/3), width and height rounded, the first that fits kept, else the centre
  crop; then a horizontal flip with probability 0.5;
- RandAugment: 2 slots, each an op drawn uniformly (with replacement) among timm's 15
  increasing ops, applied with probability 0.5, at magnitude ~ N(9, 0.5) clipped to [0, 10],
  and (for the signed ops) negated with probability 0.5;
- random erasing (timm's `RandomErasing`, mode "pixel", one box): with probability p, up to
  10 tries of an area share ~ U(0.02, 1/3) and a log-uniform aspect ratio in (0.3, 1/0.3);
- MixUp (alpha 0.8) or CutMix (alpha 1.0), chosen 50/50 per batch, each image mixed with its
  partner in the reversed batch (timm's `x.flip(0)`); CutMix's lambda corrected to the box
  actually cut (`correct_lam=True`). Labels come back as mixed one-hot vectors without label
  smoothing (smoothing is affine, so the loss may smooth the mixed labels: the result is the
  same as timm's smoothing before mixing).

Every array has the batch on its first axis, so a Keras data adapter can treat it as data.
"""

import math

import numpy as np

# What a recipe may ask for: nothing, "basic" (pad-and-crop, flip) or "paper" (the official recipe's).
AUGMENTATIONS = (None, "basic", "paper")

# timm's _RAND_INCREASING_TRANSFORMS, in timm's order.
RAND_OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
OP_INDEX = {name: i for i, name in enumerate(RAND_OPS)}
GEOMETRIC_OPS = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
MAX_LEVEL = 10.0  # timm's _LEVEL_DENOM

# timm fills what rotate/shear/translate uncover with the data set's mean colour
# (hparams img_mean = round(255 * mean)); the official CIFAR config's mean.
CIFAR10_FILL = (125.0, 123.0, 114.0)

MIXUP_ALPHA = 0.8
CUTMIX_ALPHA = 1.0
ERASE_BANK_SIZE = 64  # noise images the device picks erasing fills from


def sample_crop_flip(rng, batch_size, image_shape, scale=(0.8, 1.0), ratio=(3 / 4, 4 / 3), attempts=10):
    """timm's random-resized-crop box and a horizontal flip, per image.

    Returns {"crop": float32 (N, 4) top, left, height, width in pixels of the source image,
    "flip": float32 (N,) 1.0 to flip}."""
    height, width = image_shape[:2]
    area = height * width
    target = rng.uniform(scale[0], scale[1], (batch_size, attempts)) * area
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), (batch_size, attempts)))
    w = np.round(np.sqrt(target * aspect))
    h = np.round(np.sqrt(target / aspect))
    fits = (w <= width) & (h <= height)
    first = np.argmax(fits, axis=1)
    rows = np.arange(batch_size)
    w, h, found = w[rows, first], h[rows, first], fits[rows, first]
    # timm's fallback: the whole image cut to the nearest allowed aspect ratio, centred.
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        fw, fh = round(height * max(ratio)), height
    else:
        fw, fh = width, height
    w, h = np.where(found, w, fw), np.where(found, h, fh)
    top = np.floor(rng.random(batch_size) * (height - h + 1))
    left = np.floor(rng.random(batch_size) * (width - w + 1))
    top = np.where(found, top, (height - h) // 2)
    left = np.where(found, left, (width - w) // 2)
    crop = np.stack([top, left, h, w], axis=1).astype(np.float32)
    flip = (rng.random(batch_size) < 0.5).astype(np.float32)
    return {"crop": crop, "flip": flip}


def sample_pad_crop_flip(rng, batch_size, image_shape, padding=4):
    """The "basic" augmentation: a random crop of the image zero-padded by `padding` pixels,
    as a box of the image's own size shifted by -padding..padding pixels, and a flip."""
    height, width = image_shape[:2]
    shift = rng.integers(-padding, padding + 1, (batch_size, 2))
    crop = np.concatenate([shift, np.tile([[height, width]], (batch_size, 1))], axis=1).astype(np.float32)
    flip = (rng.random(batch_size) < 0.5).astype(np.float32)
    return {"crop": crop, "flip": flip}


def sample_rand_augment(rng, batch_size, num_ops=2, magnitude=9.0, magnitude_std=0.5, probability=0.5):
    """timm's RandAugment draws per image: op index (N, num_ops) int32, whether each applies,
    its magnitude and its sign (float32)."""
    op = rng.integers(0, len(RAND_OPS), (batch_size, num_ops)).astype(np.int32)
    apply = (rng.random((batch_size, num_ops)) <= probability).astype(np.float32)
    level = np.clip(rng.normal(magnitude, magnitude_std, (batch_size, num_ops)), 0.0, MAX_LEVEL).astype(np.float32)
    sign = np.where(rng.random((batch_size, num_ops)) > 0.5, -1.0, 1.0).astype(np.float32)
    return {"op": op, "op_apply": apply, "op_magnitude": level, "op_sign": sign}


def sample_erasing(rng, batch_size, image_shape, probability, area=(0.02, 1 / 3), aspect=(0.3, 1 / 0.3), attempts=10):
    """timm's RandomErasing (one box) per image: {"erase_box": int32 (N, 4) top, left, height,
    width (0 x 0 when not erased), "erase_noise": int32 (N,) which noise image fills it}."""
    height, width = image_shape[:2]
    erase = rng.random(batch_size) < probability
    target = rng.uniform(area[0], area[1], (batch_size, attempts)) * height * width
    ratio = np.exp(rng.uniform(math.log(aspect[0]), math.log(aspect[1]), (batch_size, attempts)))
    h = np.round(np.sqrt(target * ratio))
    w = np.round(np.sqrt(target / ratio))
    fits = (w < width) & (h < height)
    first = np.argmax(fits, axis=1)
    rows = np.arange(batch_size)
    h, w = h[rows, first], w[rows, first]
    erase &= fits[rows, first]
    top = np.floor(rng.random(batch_size) * (height - h + 1))
    left = np.floor(rng.random(batch_size) * (width - w + 1))
    box = np.stack([top, left, h, w], axis=1) * erase[:, None]
    noise = rng.integers(0, ERASE_BANK_SIZE, batch_size)
    return {"erase_box": box.astype(np.int32), "erase_noise": noise.astype(np.int32)}


def sample_mixing(rng, labels, num_classes, image_shape, active=True, switch_prob=0.5, mixup_lambda=None):
    """timm's batch-mode Mixup/CutMix: (params, soft labels float32 (N, num_classes)).
    `mixup_lambda` fixes MixUp's weight instead of drawing it (a figure: a mix one can see).

    params: "mix_partner" int32 (N,) the image each is mixed with (the reversed batch),
    "mix_lambda" float32 (N,) MixUp's weight of the image itself (1: no MixUp), "cutmix_box"
    int32 (N, 4) top, left, height, width of the region taken from the partner (empty: none).
    With active=False nothing is mixed, but the arrays keep their shapes."""
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    height, width = image_shape[:2]
    one_hot = np.eye(num_classes, dtype=np.float32)[labels]
    partner = np.arange(n)[::-1].copy()
    mix_lambda = np.ones(n, np.float32)
    box = np.zeros((n, 4), np.int32)
    lam = 1.0
    if active:
        if rng.random() < switch_prob:
            lam = float(rng.beta(CUTMIX_ALPHA, CUTMIX_ALPHA))
            cut = math.sqrt(1.0 - lam)
            cut_h, cut_w = int(height * cut), int(width * cut)
            cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
            top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
            left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
            box[:] = (top, left, bottom - top, right - left)
            lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
        else:
            lam = float(rng.beta(MIXUP_ALPHA, MIXUP_ALPHA)) if mixup_lambda is None else float(mixup_lambda)
            mix_lambda[:] = lam
    soft = (lam * one_hot + (1.0 - lam) * one_hot[partner]).astype(np.float32)
    return {"mix_partner": partner.astype(np.int32), "mix_lambda": mix_lambda, "cutmix_box": box}, soft


def sample_paper_params(rng, labels, num_classes, image_shape, random_erasing=0.0, mix=True):
    """All the paper recipe's draws for one batch: (params dict, soft labels)."""
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    params = sample_crop_flip(rng, n, image_shape)
    params.update(sample_rand_augment(rng, n))
    params["fill"] = np.tile(np.asarray(CIFAR10_FILL, np.float32), (n, 1))
    if random_erasing > 0:
        params.update(sample_erasing(rng, n, image_shape, random_erasing))
    mixing, soft = sample_mixing(rng, labels, num_classes, image_shape, active=mix)
    params.update(mixing)
    return params, soft


def sample_basic_params(rng, batch_size, image_shape, padding=4):
    """The "basic" augmentation's draws (pad-and-crop, flip; zero fill)."""
    params = sample_pad_crop_flip(rng, batch_size, image_shape, padding)
    params["fill"] = np.zeros((batch_size, 3), np.float32)
    return params


def identity_params(batch_size, image_shape):
    """Parameters that leave the images as they are (the whole image, no flip, no ops)."""
    height, width = image_shape[:2]
    crop = np.tile(np.asarray([[0, 0, height, width]], np.float32), (batch_size, 1))
    return {"crop": crop, "flip": np.zeros(batch_size, np.float32), "fill": np.zeros((batch_size, 3), np.float32)}
