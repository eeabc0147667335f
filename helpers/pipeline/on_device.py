"""The paper recipe's augmentation as pixel work on the device, in `keras.ops` only.

    params, soft_labels = draws.sample_paper_params(rng, labels, 10, (32, 32))  # host, NumPy
    images = augment_batch(uint8_images, params)   # device: float32 0-255, inside the compiled step

Randomness and pixel work are split: the host draws every random number per image
(`helpers.pipeline.draws`, NumPy only), and `augment_batch` is a deterministic function of
the images and those numbers, with no Python branching on values and no data-dependent
shapes, so it runs inside `jit`/XLA on the TensorFlow, JAX and PyTorch backends.

Why not `keras.layers.RandAugment`: that layer draws its operations once per batch
(`get_random_transformation` draws `(num_ops,)` indices), so every image of a batch gets the
same two operations. timm draws them per image; here each image has its own ops, magnitudes,
signs and apply flags.

How it works:
- all geometry of an image (random-resized crop, flip, and any rotate/shear/translate of its two
  RandAugment slots) is folded into one affine map, and the image is resampled once with
  one bilinear gather (`keras.ops.image.affine_transform`'s arithmetic, written out with `take`
  so that XLA compiles it on TensorFlow too). The areas that timm's
  rotate/shear/translate uncover are found from the same maps and painted with the fill colour;
  the result is rounded to whole pixel values, as PIL's uint8 images are;
- the 10 colour ops are computed for the whole batch and each image keeps the one its slot
  drew (`where`), slot after slot; Equalize is a per-image, per-channel 256-bin histogram
  (`segment_sum`) and lookup table, with PIL's formulas; AutoContrast, Posterize, Solarize,
  SolarizeAdd, Invert and the four ImageEnhance ops (Color, Contrast, Brightness, Sharpness) follow
  PIL's integer arithmetic (blends truncate like PIL's `Image.blend`);
- random erasing and CutMix are box masks; MixUp blends each image with its partner.

Where this deviates from timm (`rand-m9-mstd0.5-inc1`, PIL):
- geometry first: timm applies its ops in the drawn order, each on a uint8 image; here the
  geometric ops of both slots are applied before the colour ops, in one resampling. Pointwise
  colour ops (Invert, Posterize, Solarize, SolarizeAdd, Brightness, Color) commute with geometry
  except on the filled border (which the colour op then also changes); AutoContrast, Equalize,
  Contrast and Sharpness see the image after the geometry instead of before it;
- one bilinear resampling for crop + flip + ops, where timm resizes the crop bicubically (or
  as configured) and then resamples again for each geometric op (bilinear or bicubic at random);
- uncovered areas get timm's fill, the data set's mean colour (125, 123, 114), decided per output
  pixel with PIL's bounds; bilinear weights at the very border blend with the nearest pixel;
- random erasing's per-pixel normal noise (timm's mode "pixel") comes from a fixed bank of
  `ERASE_BANK_SIZE` noise images (the host picks one per image), mapped to pixel values with the
  CIFAR-10 mean and std and clipped to 0-255 (timm's noise lives in normalised space, unclipped);
- MixUp/CutMix blend pixels 0-255 rather than normalised tensors: the same, as normalising is affine.
"""

import functools

import numpy as np

from keras import ops

from helpers.models import CIFAR10_MEAN, CIFAR10_STD
from helpers.pipeline.draws import ERASE_BANK_SIZE, GEOMETRIC_OPS, MAX_LEVEL, OP_INDEX, RAND_OPS

COLOR_OPS = tuple(name for name in RAND_OPS if name not in GEOMETRIC_OPS)  # in timm's order


def augment_batch(images, params):
    """Augment a batch of images (N, H, W, 3), uint8 or 0-255 floats, with the per-image
    parameters `params` drawn by `helpers.pipeline.draws`; returns float32 images 0-255.

    Keys used when present: "crop", "flip", "fill" (geometry; always), "op", "op_apply",
    "op_magnitude", "op_sign" (RandAugment), "erase_box", "erase_noise" (random erasing),
    "mix_partner", "mix_lambda", "cutmix_box" (MixUp/CutMix)."""
    x = ops.cast(images, "float32")
    height, width = x.shape[1], x.shape[2]
    x = _materialized(_geometry(x, params, height, width))
    if "op" in params:
        for slot in range(params["op"].shape[1]):
            x = _materialized(_color_slot(x, params, slot))
    if "erase_box" in params:
        bank = ops.convert_to_tensor(_erase_bank(height, width))
        noise = ops.take(bank, ops.cast(params["erase_noise"], "int32"), axis=0)
        x = ops.where(_box_mask(params["erase_box"], height, width), noise, x)
    if "mix_partner" in params:
        partner = ops.take(x, ops.cast(params["mix_partner"], "int32"), axis=0)
        x = ops.where(_box_mask(params["cutmix_box"], height, width), partner, x)
        lam = _per_image(params["mix_lambda"])
        x = lam * x + (1.0 - lam) * partner
    return _materialized(ops.clip(x, 0.0, 255.0))  # computed once, not inside the model's first layers


def _materialized(x):
    """x, computed once. XLA on CPU otherwise fuses the gathers that make x into each of its many
    consumers (the colour ops all read it) and recomputes them, several times slower; neither
    JAX's optimization_barrier nor a loop stopped that, a matrix product does. A product with the
    3x3 identity is exact for whole numbers 0-255 at any matmul precision (bfloat16 included)."""
    return ops.matmul(x, ops.eye(x.shape[-1], dtype=x.dtype))


def _per_image(values):
    return ops.reshape(ops.cast(values, "float32"), (-1, 1, 1, 1))


# ---------------------------------------------------------------------------------------------
# Geometry. An affine map is a tuple (a, b, c, d, e, f) of per-image values: the output pixel at
# column x, row y samples the input at (a x + b y + c, d x + e y + f), in pixel-index coordinates
# (pixel centres at whole numbers), as `affine_transform` reads its transforms.


def _compose(m1, m2):
    """The map that applies m2 to the output coordinates, then m1 (matrix product m1 @ m2)."""
    a1, b1, c1, d1, e1, f1 = m1
    a2, b2, c2, d2, e2, f2 = m2
    return (
        a1 * a2 + b1 * d2,
        a1 * b2 + b1 * e2,
        a1 * c2 + b1 * f2 + c1,
        d1 * a2 + e1 * d2,
        d1 * b2 + e1 * e2,
        d1 * c2 + e1 * f2 + f1,
    )


def _slot_map(params, slot, height, width):
    """The inverse map of the geometric op of one RandAugment slot (identity otherwise)."""
    op = ops.cast(params["op"][:, slot], "int32")
    applied = ops.cast(params["op_apply"][:, slot], "float32") > 0.5
    level = ops.cast(params["op_magnitude"][:, slot], "float32") / MAX_LEVEL
    sign = ops.cast(params["op_sign"][:, slot], "float32")

    def chosen(name):
        return ops.cast(ops.logical_and(applied, ops.equal(op, OP_INDEX[name])), "float32")

    rot, shx, shy, tx, ty = (chosen(n) for n in GEOMETRIC_OPS)
    # PIL's rotate(degrees) turns counter-clockwise about the centre; its inverse map turns by -degrees.
    angle = -sign * level * (30.0 * np.pi / 180.0)
    cos, sin = ops.cos(angle), ops.sin(angle)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    shear = sign * level * 0.3  # PIL shears about the top-left corner of the top-left pixel
    shift = sign * level * 0.45  # share of the image size
    return (
        1.0 + rot * (cos - 1.0),
        rot * sin + shx * shear,
        rot * (cx - cos * cx - sin * cy) + shx * 0.5 * shear + tx * shift * width,
        -rot * sin + shy * shear,
        1.0 + rot * (cos - 1.0),
        rot * (cy + sin * cx - cos * cy) + shy * 0.5 * shear + ty * shift * height,
    )


def _inside(m, xs, ys, height, width):
    """Whether each output pixel's source under map m lies inside the image (PIL's bounds)."""
    a, b, c, d, e, f = (ops.reshape(v, (-1, 1, 1)) for v in m)
    sx = a * xs + b * ys + c
    sy = d * xs + e * ys + f
    return ops.logical_and(
        ops.logical_and(sx >= -0.5, sx < width - 0.5), ops.logical_and(sy >= -0.5, sy < height - 0.5)
    )


def _geometry(x, params, height, width):
    crop = ops.cast(params["crop"], "float32")
    top, left, crop_h, crop_w = (crop[:, i] for i in range(4))
    zero = ops.zeros_like(top)
    one = ops.ones_like(top)
    # Resize the crop box to the whole image (half-pixel centres, like PIL's resize).
    crop_map = (
        crop_w / width, zero, left + 0.5 * crop_w / width - 0.5,
        zero, crop_h / height, top + 0.5 * crop_h / height - 0.5,
    )
    flip = ops.cast(params["flip"], "float32")
    flip_map = (1.0 - 2.0 * flip, zero, flip * (width - 1), zero, one, zero)
    # Source of an output pixel: slots applied last-to-first, then the flip, then the crop.
    total = _compose(crop_map, flip_map)
    ys = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1))
    xs = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width))
    valid = None
    if "op" in params:
        slot_maps = [_slot_map(params, s, height, width) for s in range(params["op"].shape[1])]
        after = None  # map from the output to the frame each slot's op reads
        for m in reversed(slot_maps):
            after = m if after is None else _compose(after, m)
            inside = _inside(after, xs, ys, height, width)
            valid = inside if valid is None else ops.logical_and(valid, inside)
        total = _compose(total, after)
    inside = _inside(total, xs, ys, height, width)
    valid = inside if valid is None else ops.logical_and(valid, inside)
    warped = _bilinear(x, total, xs, ys)
    fill = ops.reshape(ops.cast(params["fill"], "float32"), (-1, 1, 1, 3))
    out = ops.where(ops.expand_dims(valid, -1), warped, fill)
    return ops.round(ops.clip(out, 0.0, 255.0))


def _bilinear(x, m, xs, ys):
    """x resampled at the sources of map m, bilinear, coordinates clamped to the image (the edge
    pixel repeats). The same arithmetic as `keras.ops.image.affine_transform(x, m,
    fill_mode="nearest")`, written as one gather of whole pixels: XLA compiles it on every
    backend (TensorFlow has no XLA kernel for ImageProjectiveTransformV3) and it runs several
    times faster than the JAX backend's `map_coordinates` on CPU."""
    height, width = x.shape[1], x.shape[2]
    a, b, c, d, e, f = (ops.reshape(v, (-1, 1, 1)) for v in m)
    sx = ops.clip(a * xs + b * ys + c, 0.0, width - 1.0)
    sy = ops.clip(d * xs + e * ys + f, 0.0, height - 1.0)
    x0, y0 = ops.floor(sx), ops.floor(sy)
    wx, wy = ops.expand_dims(sx - x0, -1), ops.expand_dims(sy - y0, -1)
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    x1, y1 = ops.minimum(x0 + 1, width - 1), ops.minimum(y0 + 1, height - 1)
    base = ops.reshape(ops.arange(ops.shape(x)[0], dtype="int32") * (height * width), (-1, 1, 1))
    flat = ops.reshape(x, (-1, x.shape[3]))

    def at(row, col):
        return ops.take(flat, base + row * width + col, axis=0)

    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


# ---------------------------------------------------------------------------------------------
# Colour ops on whole-number float32 images 0-255 (PIL's uint8 arithmetic).


def _grey(x):
    """PIL's RGB -> L: (19595 R + 38470 G + 7471 B + 2**15) >> 16 (exact in float32)."""
    r, g, b = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    return ops.floor((r * 19595.0 + g * 38470.0 + b * 7471.0 + 32768.0) / 65536.0)


def _blend(degenerate, image, factor):
    """PIL's Image.blend(degenerate, image, factor) on uint8: clipped, then truncated."""
    return ops.floor(ops.clip(degenerate + factor * (image - degenerate), 0.0, 255.0))


def _auto_contrast(x):
    low = ops.min(x, axis=(1, 2), keepdims=True)
    high = ops.max(x, axis=(1, 2), keepdims=True)
    span = high - low
    scale = 255.0 / ops.maximum(span, 1.0)
    out = ops.clip(ops.floor((x - low) * scale), 0.0, 255.0)
    return ops.where(span > 0, out, x)


def _equalize(x):
    n = ops.shape(x)[0]
    height, width = x.shape[1], x.shape[2]
    pixels = height * width
    values = ops.transpose(ops.reshape(ops.cast(x, "int32"), (-1, pixels, 3)), (0, 2, 1))  # (N, 3, HW)
    rows = ops.reshape(ops.arange(n * 3, dtype="int32"), (-1, 3, 1))
    ids = ops.reshape(rows * 256 + values, (-1,))
    counts = ops.segment_sum(ops.ones_like(ids, dtype="float32"), ids, num_segments=n * 3 * 256)
    histogram = ops.reshape(counts, (-1, 3, 256))
    top = ops.max(values, axis=2, keepdims=True)
    top_count = ops.take_along_axis(histogram, top, axis=2)  # the last non-empty bin
    step = ops.floor((pixels - top_count) / 255.0)
    below = ops.cumsum(histogram, axis=2) - histogram
    lut = ops.clip(ops.floor((ops.floor(step / 2.0) + below) / ops.maximum(step, 1.0)), 0.0, 255.0)
    mapped = ops.take_along_axis(lut, values, axis=2)
    mapped = ops.where(step > 0, mapped, ops.cast(values, "float32"))
    return ops.reshape(ops.transpose(mapped, (0, 2, 1)), ops.shape(x))


def _smooth(x):
    """PIL's ImageFilter.SMOOTH (3x3, centre 5, /13), borders copied, rounded."""
    height, width = x.shape[1], x.shape[2]
    padded = ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    total = 4.0 * x
    for dy in range(3):
        for dx in range(3):
            total = total + padded[:, dy : dy + height, dx : dx + width, :]
    smooth = ops.floor(ops.clip(total / 13.0 + 0.5, 0.0, 255.0))
    border = np.ones((1, height, width, 1), bool)
    border[:, 1:-1, 1:-1, :] = False
    return ops.where(ops.convert_to_tensor(border), x, smooth)


def _color_slot(x, params, slot):
    op = ops.cast(params["op"][:, slot], "int32")
    applied = ops.cast(params["op_apply"][:, slot], "float32") > 0.5
    level = _per_image(params["op_magnitude"][:, slot]) / MAX_LEVEL
    sign = _per_image(params["op_sign"][:, slot])
    factor = ops.maximum(0.1, 1.0 + sign * level * 0.9)  # timm's *Increasing enhancements
    bits = 4.0 - ops.floor(level * 4.0)
    step = ops.power(2.0, 8.0 - bits)
    threshold = 256.0 - ops.floor(level * 256.0)
    add = ops.floor(level * 110.0)
    grey = _grey(x)
    mean = ops.floor(ops.mean(grey, axis=(1, 2, 3), keepdims=True) + 0.5)
    results = {
        "AutoContrast": lambda: _auto_contrast(x),
        "Equalize": lambda: _equalize(x),
        "Invert": lambda: 255.0 - x,
        "PosterizeIncreasing": lambda: ops.floor(x / step) * step,
        "SolarizeIncreasing": lambda: ops.where(x >= threshold, 255.0 - x, x),
        "SolarizeAdd": lambda: ops.where(x < 128.0, ops.minimum(255.0, x + add), x),
        "ColorIncreasing": lambda: _blend(grey, x, factor),
        "ContrastIncreasing": lambda: _blend(mean, x, factor),
        "BrightnessIncreasing": lambda: _blend(0.0, x, factor),
        "SharpnessIncreasing": lambda: _blend(_smooth(x), x, factor),
    }
    chosen = ops.reshape(ops.where(applied, op, -1), (-1, 1, 1, 1))
    out = x
    for name in COLOR_OPS:
        out = ops.where(ops.equal(chosen, OP_INDEX[name]), results[name](), out)
    return out


# ---------------------------------------------------------------------------------------------


def _box_mask(box, height, width):
    """(N, H, W, 1) True inside each image's box (top, left, height, width)."""
    box = ops.cast(box, "int32")
    top, left, h, w = (ops.reshape(box[:, i], (-1, 1, 1, 1)) for i in range(4))
    ys = ops.reshape(ops.arange(height, dtype="int32"), (1, height, 1, 1))
    xs = ops.reshape(ops.arange(width, dtype="int32"), (1, 1, width, 1))
    return ops.logical_and(
        ops.logical_and(ys >= top, ys < top + h), ops.logical_and(xs >= left, xs < left + w)
    )


@functools.lru_cache(maxsize=4)
def _erase_bank(height, width):
    """Fixed per-pixel noise images for random erasing: N(0, 1) in the models' normalised space
    (timm's mode "pixel"), as pixel values 0-255."""
    z = np.random.default_rng(20210105).standard_normal((ERASE_BANK_SIZE, height, width, 3))
    pixels = 255.0 * (np.asarray(CIFAR10_MEAN) + np.asarray(CIFAR10_STD) * z)
    return np.clip(pixels, 0.0, 255.0).astype(np.float32)
