"""Which tokens does a trained model's decision rest on? Four relevance maps over the token grid,
and the deletion and insertion curves (Petsiuk et al., BMVC 2018) that test them: notebook 07.

    maps = relevance_maps(model, images)            # {name: (images, tokens)}, one value per token
    curves = deletion_insertion(model, images, maps["rollout"])   # class probability per step

The maps, for a model with a class token (ViT-Lite) or SeqPool (CVT, CCT):
- "rollout": attention rollout (Abnar & Zuidema, 2020, `attention_maps.attention_rollout`), read
  where the classifier reads: the class token's row, or for SeqPool the rows weighted by the
  SeqPool weights w (the pooled vector is sum_i w_i x_i, and row i of the rollout says what
  output token i took from each input token, so input token j gets sum_i w_i R_ij).
- "gradient rollout": the same with each layer's attention replaced by the mean over heads of
  (dy/dA * A)^+, y the logit of the predicted class, accumulated as R <- R + A_bar R from R = I
  (Chefer et al., ICCV 2021). Gradients weight the attention by what the class depends on.
- "seqpool": the SeqPool weights alone, over the last block's tokens (SeqPool models only).
- "random": a random order, the baseline a map must beat.
"""

import numpy as np

import keras
from keras import ops

from helpers.attention_maps import attention_rollout, attention_weights, encoder_blocks, token_layout
from helpers.models import CIFAR10_MEAN, seqpool_weights
from helpers.runtime.checks import check_images

MAP_NAMES = ("rollout", "gradient rollout", "seqpool", "random")


def uses_seqpool(model):
    return any(layer.name == "seq_pool" for layer in model.layers)


def relevance_maps(model, images, seed=0, batch_size=100):
    """{map name: (images, tokens) float32}, one relevance per patch token (higher: more relevant),
    for the maps that apply to `model` (no "seqpool" for a class-token model)."""
    images = check_images(images)
    layout = token_layout(model)
    weights = attention_weights(model, images, batch_size=batch_size)
    pooling = seqpool_weights(model, images) if uses_seqpool(model) else None
    classes = np.asarray(model.predict(images, batch_size=500, verbose=0)).argmax(axis=-1)
    gradients = np.concatenate(
        [attention_gradients(model, images[start : start + batch_size], classes[start : start + batch_size])
         for start in range(0, len(images), batch_size)],
        axis=1,
    )
    maps = {
        "rollout": _read_out(attention_rollout(weights), pooling, layout.skip),
        "gradient rollout": _read_out(gradient_rollout(weights, gradients), pooling, layout.skip),
    }
    if pooling is not None:
        maps["seqpool"] = pooling
    maps["random"] = np.random.default_rng(seed).random((len(images), layout.patches)).astype("float32")
    return maps


def _read_out(rollout, pooling, skip):
    """Relevance of each patch token for what the classifier reads: row 0 (the class token), or
    the rows weighted by the SeqPool weights."""
    if pooling is None:
        return rollout[:, 0, skip:].astype("float32")
    return np.einsum("bi,bij->bj", pooling, rollout)[:, skip:].astype("float32")


def gradient_rollout(weights, gradients):
    """Chefer et al.'s rule for attention weights and their gradients, both (layers, batch, heads,
    tokens, tokens): R = I, then per layer R <- R + mean_heads((grad * A)^+) R. Returns
    (batch, tokens, tokens)."""
    weights, gradients = np.asarray(weights, np.float64), np.asarray(gradients, np.float64)
    if weights.shape != gradients.shape or weights.ndim != 5:
        raise ValueError(f"weights {weights.shape} and gradients {gradients.shape}: pass two (layers, batch, heads, tokens, tokens).")
    tokens = weights.shape[-1]
    relevance = np.broadcast_to(np.eye(tokens), weights.shape[1:2] + (tokens, tokens))
    for layer_weights, layer_gradients in zip(weights, gradients):
        mixed = np.maximum(layer_weights * layer_gradients, 0).mean(axis=1)
        relevance = relevance + mixed @ relevance
    return relevance.astype(np.float32)


def attention_gradients(model, images, classes=None):
    """d(logit of `classes`)/d(attention weights) of every block, (layers, batch, heads, tokens,
    tokens); `classes` defaults to each image's predicted class. Computed by running the blocks
    with an offset of zeros added to their attention weights (`logits_with_attention_offsets`)
    and differentiating with respect to the offsets: TensorFlow or JAX backend."""
    images = check_images(images)
    blocks = encoder_blocks(model)
    tokens = blocks[0].input.shape[1]
    offsets = [np.zeros((len(images), block.num_heads, tokens, tokens), "float32") for block in blocks]
    if classes is None:
        classes = np.asarray(model.predict(images, verbose=0)).argmax(axis=-1)
    chosen = np.eye(model.output.shape[-1], dtype="float32")[classes]

    def chosen_logits(offsets):  # images do not interact, so one sum gives every image's gradient
        return ops.sum(logits_with_attention_offsets(model, images, offsets) * chosen)

    return np.stack(_gradients(chosen_logits, offsets))


def logits_with_attention_offsets(model, images, offsets):
    """`model`'s logits at inference with `offsets[l]` added to block l's attention weights after
    the softmax: with zeros, exactly the model's logits (tests check it). The blocks' own
    `call` is `TransformerEncoder.call` with dropout and stochastic depth off, written out so
    that the attention weights are an input one can differentiate by."""
    blocks = encoder_blocks(model)
    x = keras.Model(model.input, blocks[0].input)(images, training=False)
    for block, offset in zip(blocks, offsets):
        batch, length = ops.shape(x)[0], x.shape[1]
        weights, value = block._weights_and_values(block.pre_norm(x))
        heads = ops.transpose(ops.matmul(weights + ops.cast(offset, weights.dtype), value), (0, 2, 1, 3))
        x = block.norm(x + block.attention_projection(ops.reshape(heads, (batch, length, block.embed_dim))))
        x = x + block.mlp_output(block.mlp_activation(block.mlp_hidden(x)))
    return keras.Model(blocks[-1].output, model.output)(x, training=False)


def _gradients(function, inputs):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        inputs = [tf.constant(value) for value in inputs]
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = function(inputs)
        return [gradient.numpy() for gradient in tape.gradient(value, inputs)]
    if backend == "jax":
        import jax

        return [np.asarray(gradient) for gradient in jax.grad(function)(inputs)]
    raise NotImplementedError(f"attention gradients need the TensorFlow or JAX backend, not {backend}.")


def cell_masks(layout, image_size, order, steps):
    """Boolean masks (steps + 1, images, H, W): True where a pixel belongs to one of the first
    k * tokens / steps cells of `order` (images, tokens; token indices, most relevant first),
    k = 0 .. steps. A token's cell is the `layout.pixels`-wide square it sits on."""
    cell = int(round(layout.pixels))
    side, images = layout.side, len(order)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None], axis=1)  # each token's place in the order
    counts = np.linspace(0, order.shape[1], steps + 1).round().astype(int)
    token_ranks = ranks.reshape(images, side, side).repeat(cell, axis=1).repeat(cell, axis=2)[:, :image_size, :image_size]
    return np.stack([token_ranks < count for count in counts])


def deletion_insertion(model, images, relevance, steps=16, batch_size=500):
    """Petsiuk et al.'s two curves for one map: the probability of each image's predicted class as
    the cells of the most relevant tokens are replaced by the mean colour (deletion, from the
    image) or put back into a mean-colour image (insertion), `steps` equal steps of cells.
    Returns {"deletion": (images, steps + 1), "insertion": (images, steps + 1)}; a faithful map
    makes deletion fall fast (a small area under it) and insertion rise fast (a large area)."""
    images = check_images(images)
    layout = token_layout(model)
    relevance = np.asarray(relevance)
    if relevance.shape != (len(images), layout.patches):
        raise ValueError(f"relevance has shape {relevance.shape}; this model needs ({len(images)}, {layout.patches}).")
    order = np.argsort(-relevance, axis=1, kind="stable")
    masks = cell_masks(layout, images.shape[1], order, steps)[..., None]
    mean_colour = np.asarray(CIFAR10_MEAN, "float32") * 255  # what the model normalises to zero
    full = np.asarray(model.predict(images, batch_size=batch_size, verbose=0))
    predicted = full.argmax(axis=-1)
    curves = {}
    for name, keep_original in (("deletion", ~masks), ("insertion", masks)):
        altered = np.where(keep_original, images.astype("float32"), mean_colour)  # (steps + 1, images, H, W, 3)
        logits = np.asarray(model.predict(altered.reshape((-1,) + images.shape[1:]), batch_size=batch_size, verbose=0), "float64")
        chances = np.exp(logits - logits.max(axis=-1, keepdims=True))
        chances = (chances / chances.sum(axis=-1, keepdims=True)).reshape(steps + 1, len(images), -1)
        curves[name] = chances[:, np.arange(len(images)), predicted].T.astype("float32")
    return curves


def area_under(curves):
    """Area under each image's curve over the fraction of cells, 0 to 1 (trapezoids): (images,)."""
    curves = np.asarray(curves, np.float64)
    return ((curves[:, 1:] + curves[:, :-1]) / 2).mean(axis=1)


def rank_correlation(first, second):
    """Spearman's rank correlation of two maps, per image: (images,)."""
    ranks = [np.argsort(np.argsort(np.asarray(values), axis=1), axis=1).astype(np.float64) for values in (first, second)]
    centred = [values - values.mean(axis=1, keepdims=True) for values in ranks]
    return (centred[0] * centred[1]).sum(axis=1) / np.sqrt((centred[0] ** 2).sum(axis=1) * (centred[1] ** 2).sum(axis=1))


def plot_maps(images, maps, layout, titles=None):
    """One row per image: the image, then each map over it. Each map is scaled to its own
    largest value in that image (maps differ in scale; their order is what the curves test)."""
    import matplotlib.pyplot as plt

    from helpers.attention_maps import _overlay

    images = check_images(images)
    names = [name for name in maps if name != "random"]
    fig, axes = plt.subplots(len(images), len(names) + 1, figsize=(1.9 * (len(names) + 1), 1.9 * len(images)), squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(image.astype("uint8"), interpolation="nearest")
        axes[row, 0].set_xticks([])
        axes[row, 0].set_yticks([])
        if titles is not None:
            axes[row, 0].set_title(titles[row], fontsize=8)
        for column, name in enumerate(names, start=1):
            heat = np.asarray(maps[name][row]).reshape(layout.side, layout.side)
            _overlay(axes[row, column], image, heat, 0.0, float(heat.max()))
            if row == 0:
                axes[row, column].set_title(name, fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(curves, title=None):
    """Mean deletion (left) and insertion (right) curves, one line per (model, map):
    `curves` is {model: {map: {"deletion": (images, steps + 1), "insertion": ...}}}."""
    import matplotlib.pyplot as plt

    styles = dict(zip(MAP_NAMES, ("-", "--", "-.", ":")))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for color, (model_name, by_map) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], curves.items()):
        for map_name, both in by_map.items():
            for ax, kind in zip(axes, ("deletion", "insertion")):
                values = np.asarray(both[kind])
                ax.plot(np.linspace(0, 1, values.shape[1]), values.mean(axis=0), styles[map_name], color=color,
                        label=f"{model_name}, {map_name}")
    for ax, kind, moved in zip(axes, ("deletion", "insertion"), ("replaced by the mean colour", "put back")):
        ax.set(xlabel=f"share of the token cells {moved}, most relevant first", title=kind)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("probability of the class predicted on the whole image")
    axes[1].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
