"""Where a trained model attends: the attention weights of every encoder block, attention
rollout, mean attention distance and the similarity of the learned position embedding,
with the figures notebooks 01 and 02 draw from them. Works on any `create_model` model
(a class token or SeqPool, patch or convolutional tokenizer) and on either backend.

    weights = attention_weights(model, images)      # (layers, batch, heads, tokens, tokens)
    rollout = attention_rollout(weights)            # (batch, tokens, tokens)
    layout = token_layout(model)                    # which tokens are patches, and where
    distances = mean_attention_distance(weights, layout)   # (layers, heads), in pixels
"""

from dataclasses import dataclass

import numpy as np

import keras
import matplotlib.pyplot as plt

from helpers.runtime.checks import check_images
from helpers.layers import ClassToken, ConvTokenizer, PatchTokenizer, PositionEmbedding, TransformerEncoder


@dataclass(frozen=True)
class TokenLayout:
    """How a model's token sequence maps onto the image: `skip` leading tokens that are not
    patches (1 for a class token, else 0), then a `side` x `side` grid of patch tokens, row by
    row, each covering `pixels` x `pixels` of the image (for a convolutional tokenizer: the
    stride of its feature map in pixels; its receptive fields overlap, their centres do not)."""

    skip: int
    side: int
    pixels: float

    @property
    def patches(self):
        return self.side * self.side

    def centres(self):
        """(patches, 2): each patch token's centre (row, column) in pixels."""
        rows, cols = np.divmod(np.arange(self.patches), self.side)
        return (np.stack([rows, cols], axis=1) + 0.5) * self.pixels


def encoder_blocks(model):
    """The model's `TransformerEncoder` blocks, first to last."""
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerEncoder)]
    if not blocks:
        raise ValueError(f"{model.name} has no TransformerEncoder blocks: pass a model made by helpers.models.create_model.")
    return blocks


def token_layout(model):
    """The `TokenLayout` of a `create_model` model."""
    tokenizer = next((layer for layer in model.layers if isinstance(layer, (PatchTokenizer, ConvTokenizer))), None)
    if tokenizer is None:
        raise ValueError(f"{model.name} has no PatchTokenizer or ConvTokenizer: pass a model made by helpers.models.create_model.")
    image_size = model.input_shape[1]
    _, tokens, _ = tokenizer.compute_output_shape(model.input_shape)
    side = int(round(np.sqrt(tokens)))
    skip = int(any(isinstance(layer, ClassToken) for layer in model.layers))
    return TokenLayout(skip=skip, side=side, pixels=image_size / side)


def attention_weights(model, images, batch_size=64, return_tokens=False):
    """The softmax attention weights of every encoder block of `model` (inference: no dropout),
    float32 of shape (layers, images, heads, tokens, tokens); row i of a head's matrix is how
    much token i takes from each token, so it sums to 1.

    The tokens entering the first block are the model's own (tokenizer, class token, position
    embedding); each block's weights come from its pre-norm copy of its input, and the block
    itself then makes the next block's input. With return_tokens=True also the last block's
    output tokens (images, tokens, dim), which the model's final LayerNorm receives."""
    images = check_images(images)
    blocks = encoder_blocks(model)
    embed = keras.Model(model.input, blocks[0].input)
    all_weights, all_tokens = [], []
    for start in range(0, len(images), batch_size):
        x = embed(images[start : start + batch_size], training=False)
        layers = []
        for block in blocks:
            layers.append(keras.ops.convert_to_numpy(keras.ops.cast(block.attention_weights(block.pre_norm(x)), "float32")))
            x = block(x, training=False)
        all_weights.append(np.stack(layers))
        all_tokens.append(keras.ops.convert_to_numpy(keras.ops.cast(x, "float32")))
    weights = np.concatenate(all_weights, axis=1)
    return (weights, np.concatenate(all_tokens)) if return_tokens else weights


def attention_rollout(weights):
    """Attention rollout (Abnar & Zuidema, 2020) of weights (layers, batch, heads, tokens,
    tokens): per layer, the heads' mean plus the identity (the residual connection), rows
    renormalised to 1, multiplied from the first layer to the last. Returns (batch, tokens,
    tokens): row i is how much of each input token flows into output token i."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 5 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(f"weights has shape {weights.shape}: pass attention_weights' (layers, batch, heads, tokens, tokens).")
    tokens = weights.shape[-1]
    rollout = np.broadcast_to(np.eye(tokens), weights.shape[1:2] + (tokens, tokens))
    for layer in weights:
        mixed = layer.mean(axis=1) + np.eye(tokens)
        mixed /= mixed.sum(axis=-1, keepdims=True)
        rollout = mixed @ rollout  # later layers act on what the earlier ones have mixed
    return rollout.astype(np.float32)


def mean_attention_distance(weights, layout):
    """Mean attention distance in pixels (Dosovitskiy et al., 2021), shape (layers, heads):
    for each query patch, the distance between its centre and each key patch's centre,
    weighted by the attention between them, averaged over query patches and images.

    Only patch tokens count: a class token has no place in the image. Its share of a query's
    attention is left out and the rest renormalised to 1 over the patches, so that uniform
    attention gives `uniform_attention_distance(layout)`."""
    weights = np.asarray(weights, dtype=np.float64)
    expected = layout.skip + layout.patches
    if weights.ndim != 5 or weights.shape[-2:] != (expected, expected):
        raise ValueError(f"weights has shape {weights.shape}, but this layout has {expected} tokens per image.")
    patches = weights[..., layout.skip :, layout.skip :]
    patches = patches / patches.sum(axis=-1, keepdims=True)
    distance = _pairwise_distances(layout)
    per_query = (patches * distance).sum(axis=-1)  # (layers, batch, heads, queries)
    return per_query.mean(axis=(1, 3)).astype(np.float32)


def uniform_attention_distance(layout):
    """The mean attention distance of attention spread evenly over all patches: the mean
    distance between two patch centres, in pixels."""
    return float(_pairwise_distances(layout).mean())


def _pairwise_distances(layout):
    centres = layout.centres()
    return np.linalg.norm(centres[:, None] - centres[None], axis=-1)


def position_similarity(model):
    """Cosine similarity of the position embedding between every pair of patch positions,
    (patches, patches); the class token's row, if any, is left out."""
    layers = [layer for layer in model.layers if isinstance(layer, PositionEmbedding)]
    if not layers or layers[0].kind == "none":
        raise ValueError(f"{model.name} has no position embedding table (positional_embedding='none').")
    table = keras.ops.convert_to_numpy(layers[0].embedding).astype(np.float64)[token_layout(model).skip :]
    unit_rows = table / np.linalg.norm(table, axis=1, keepdims=True)
    return (unit_rows @ unit_rows.T).astype(np.float32)


def _overlay(ax, image, heat, vmin, vmax, cmap="inferno"):
    """The image, and over it the heat map (token grid) stretched to the image's size."""
    height, width = image.shape[:2]
    ax.imshow(image.astype("uint8"), interpolation="nearest")
    picture = ax.imshow(heat, cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.6, extent=(0, width, height, 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return picture


def _grid(values, layout):
    return np.asarray(values)[..., layout.skip :].reshape(values.shape[:-1] + (layout.side, layout.side))


def plot_query_attention(images, weights, layout, layer=-1, query=0, titles=None, vmax=None):
    """One row per image: the image, then each head's attention of token `query` (0: the class
    token, if the model has one) over the patch tokens in encoder block `layer`, drawn over the
    image. All heat maps share one colour scale (the colour bar), from 0 to `vmax` (by default
    the largest weight drawn: pass the same `vmax` to compare blocks). The attention the query pays
    to the class token itself is not drawn; each panel's title gives it when there is one."""
    images = check_images(images)
    layer_weights = np.asarray(weights)[layer]  # (batch, heads, tokens, tokens)
    count, heads = min(len(images), len(layer_weights)), layer_weights.shape[1]
    rows = layer_weights[:count, :, query]  # (images, heads, tokens)
    maps = _grid(rows, layout)
    vmax = float(maps.max()) if vmax is None else vmax
    fig, axes = plt.subplots(count, heads + 1, figsize=(1.9 * (heads + 1) + 0.8, 1.9 * count), squeeze=False, layout="constrained")
    for i in range(count):
        axes[i, 0].imshow(images[i].astype("uint8"), interpolation="nearest")
        axes[i, 0].set_xticks([])
        axes[i, 0].set_yticks([])
        if titles is not None:
            axes[i, 0].set_title(titles[i], fontsize=8)
        for head in range(heads):
            picture = _overlay(axes[i, head + 1], images[i], maps[i, head], 0.0, vmax)
            title = f"head {head}"
            if layout.skip:
                title += f" (to class token {rows[i, head, 0]:.2f})"
            axes[i, head + 1].set_title(title, fontsize=7)
    layer_number = layer % len(np.asarray(weights))
    who = "class token" if layout.skip and query == 0 else f"token {query}"
    fig.colorbar(picture, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(f"attention of the {who} over the patches, block {layer_number}", fontsize=9)
    return fig


def plot_rollout(images, rollout, layout, query=0, titles=None):
    """Top row the images, bottom row the rollout of token `query` (0: the class token, if any)
    over the patch tokens drawn over each image, all on one colour scale."""
    images = check_images(images)
    rollout = np.asarray(rollout)
    count = min(len(images), len(rollout))
    maps = _grid(rollout[:count, query], layout)
    vmax = float(maps.max())
    fig, axes = plt.subplots(2, count, figsize=(1.8 * count + 0.8, 3.8), squeeze=False, layout="constrained")
    for i in range(count):
        axes[0, i].imshow(images[i].astype("uint8"), interpolation="nearest")
        axes[0, i].set_xticks([])
        axes[0, i].set_yticks([])
        if titles is not None:
            axes[0, i].set_title(titles[i], fontsize=8)
        picture = _overlay(axes[1, i], images[i], maps[i], 0.0, vmax)
    who = "class token" if layout.skip and query == 0 else f"token {query}"
    fig.colorbar(picture, ax=axes[1], shrink=0.9, label="rollout weight")
    fig.suptitle(f"attention rollout of the {who} over the patches", fontsize=9)
    return fig


def plot_mean_distance(distances, layout, title=None):
    """Mean attention distance (pixels) per block, one point per head, with the distance of
    uniform attention as a dashed line."""
    distances = np.asarray(distances)
    layers, heads = distances.shape
    fig, ax = plt.subplots(figsize=(1.2 * layers + 3, 3.2), layout="constrained")
    offsets = np.linspace(-0.15, 0.15, heads) if heads > 1 else np.zeros(1)
    for head in range(heads):
        ax.scatter(np.arange(layers) + offsets[head], distances[:, head], label=f"head {head}", zorder=3)
    uniform = uniform_attention_distance(layout)
    ax.axhline(uniform, color="gray", linestyle="--", label=f"uniform attention ({uniform:.1f} px)")
    top = 1.2 * max(float(distances.max()), uniform)
    ax.set(xticks=range(layers), xlabel="encoder block", ylabel="mean attention distance (pixels)", ylim=(0, top))
    ax.set_xlim(-0.6, layers - 0.4)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    return fig


def plot_position_similarity(similarity, layout, title=None):
    """A grid of small maps, one per patch position (row r, column c of the grid): the cosine
    similarity of that position's embedding with every position, on one colour scale."""
    similarity = np.asarray(similarity)
    side = layout.side
    if similarity.shape != (side * side, side * side):
        raise ValueError(f"similarity has shape {similarity.shape}, but this layout has {side * side} patch positions.")
    fig, axes = plt.subplots(side, side, figsize=(0.75 * side + 1.0, 0.75 * side), squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.ravel()):
        picture = ax.imshow(similarity[index].reshape(side, side), cmap="viridis", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    for row in range(side):
        axes[row, 0].set_ylabel(str(row), fontsize=7, rotation=0, labelpad=6)
    for col in range(side):
        axes[-1, col].set_xlabel(str(col), fontsize=7)
    fig.supylabel("input patch row", fontsize=8)
    fig.supxlabel("input patch column", fontsize=8)
    fig.colorbar(picture, ax=axes, shrink=0.8, label="cosine similarity")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
