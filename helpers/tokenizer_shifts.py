"""How much a tokenizer's tokens change when the image moves by a few pixels (notebook 04).

A token grid with stride J (pixels between neighbouring tokens) can only follow a shift of s
pixels by re-indexing when s is a multiple of J: then every interior token moves s / J places
and is otherwise unchanged (a convolution or a patch projection shares its weights across
positions). For other shifts the tokens themselves change, and how much depends on what each
token sees: its receptive field, and how much neighbouring fields overlap.
"""

import numpy as np
from keras import ops

from helpers.runtime.checks import check_images
from helpers.layers import ConvTokenizer, PatchTokenizer


def tokenizer_layers(tokenizer):
    """The (kernel, stride) of each spatial layer of a `PatchTokenizer` or `ConvTokenizer`, in order."""
    if isinstance(tokenizer, PatchTokenizer):
        return [(tokenizer.patch_size, tokenizer.patch_size)]
    if isinstance(tokenizer, ConvTokenizer):
        block = [(tokenizer.kernel_size, tokenizer.stride), (tokenizer.pooling_kernel_size, tokenizer.pooling_stride)]
        return block * tokenizer.num_conv_layers
    raise TypeError(f"{type(tokenizer).__name__} is not a PatchTokenizer or ConvTokenizer.")


def receptive_field(layers):
    """(receptive field, stride) in pixels of the outputs of (kernel, stride) layers applied in turn:
    each layer widens the field by (kernel - 1) times the distance between its inputs."""
    field, jump = 1, 1
    for kernel, stride in layers:
        field, jump = field + (kernel - 1) * jump, jump * stride
    return field, jump


def shifted_crops(images, shifts, margin=8):
    """Each image with its content moved 0, then each of `shifts` pixels to the right.

    The images are first padded by reflection, so every crop is image content to its edges (no
    band of zeros that the tokens would also have to follow). Returns (1 + len(shifts), N, H, W, C)."""
    images = check_images(images).astype("float32")
    if max(shifts) > margin:
        raise ValueError(f"shifts up to {max(shifts)} pixels need margin >= {max(shifts)}, not {margin}.")
    padded = np.pad(images, ((0, 0), (0, 0), (margin, margin), (0, 0)), mode="reflect")
    width = images.shape[2]
    return np.stack([padded[:, :, margin - s : margin - s + width] for s in (0, *shifts)])


def token_grid(model, images):
    """A model's tokens for raw images (0-255), as (N, rows, columns, features): the tokenizer
    sees the images through the model's own `normalize` layer, as in training."""
    tokens = model.get_layer("tokenizer")(model.get_layer("normalize")(images))
    tokens = ops.convert_to_numpy(ops.cast(tokens, "float32"))
    side = int(round(np.sqrt(tokens.shape[1])))
    return tokens.reshape(len(tokens), side, side, tokens.shape[-1])


def token_shift_change(model, images, shifts=(1, 2, 3, 4)):
    """Relative change of `model`'s tokens when the images move `shifts` pixels to the right.

    For a shift of s pixels and a token stride J, the shifted grid is compared with the original one
    moved by whole tokens: floor(s / J) and ceil(s / J) places, keeping the better match (when J
    divides s both are s / J, where weight sharing predicts no change at all). Columns whose
    receptive field reaches past the image's left or right edge, in either grid, are left out.
    The change is sqrt(sum |shifted - original|^2 / sum |original|^2) over the compared tokens:
    0 when the tokens only moved, about 1.4 between unrelated tokens of the same size.
    Returns {shift: relative change}."""
    field, jump = receptive_field(tokenizer_layers(model.get_layer("tokenizer")))
    original, *shifted = [token_grid(model, crops) for crops in shifted_crops(images, shifts)]
    columns = original.shape[2]
    border = -(-(field // 2) // jump)  # tokens whose field (about `field` wide, centred) crosses the edge
    changes = {}
    for s, grid in zip(shifts, shifted):
        best = np.inf
        for places in sorted({s // jump, -(-s // jump)}):
            kept = range(border, columns - border - places)  # original column c <-> shifted column c + places
            before, after = original[:, :, list(kept)], grid[:, :, [c + places for c in kept]]
            best = min(best, float(np.sqrt(np.sum((after - before) ** 2) / np.sum(before**2))))
        changes[s] = best
    return changes
