"""helpers.attention_maps: attention weights read block by block, rollout, mean attention
distance, position-embedding similarity, and their figures."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import keras

from helpers import attention_maps
from helpers.attention_maps import TokenLayout
from helpers.models import create_model

SMALL = dict(embed_dim=32)  # the variants' layout (tokens, heads, blocks) at a quarter of the width


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3)).astype("uint8")


@pytest.fixture(scope="module", params=["vit_lite_2_4", "cvt_2_4", "cct_2_3x2"])
def model(request):
    keras.utils.set_random_seed(0)
    return create_model(request.param, **SMALL)


def test_layouts_of_the_three_families():
    assert attention_maps.token_layout(create_model("vit_lite_2_4", **SMALL)) == TokenLayout(skip=1, side=8, pixels=4.0)
    assert attention_maps.token_layout(create_model("cvt_2_4", patch_size=8, **SMALL)) == TokenLayout(skip=0, side=4, pixels=8.0)
    assert attention_maps.token_layout(create_model("cct_2_3x2", **SMALL)) == TokenLayout(skip=0, side=8, pixels=4.0)


def test_weights_have_one_row_per_token_summing_to_one(model, images):
    layout = attention_maps.token_layout(model)
    weights = attention_maps.attention_weights(model, images, batch_size=2)  # two batches
    tokens = layout.skip + layout.patches
    assert weights.shape == (2, len(images), 2, tokens, tokens)
    assert weights.dtype == np.float32
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)


def test_blocks_fed_one_by_one_give_the_models_logits(model, images):
    weights, tokens = attention_maps.attention_weights(model, images, return_tokens=True)
    x = model.get_layer("final_norm")(tokens)
    pool = model.get_layer("class_token_readout") if attention_maps.token_layout(model).skip else model.get_layer("seq_pool")
    logits = keras.ops.convert_to_numpy(model.get_layer("classifier")(pool(x)))
    np.testing.assert_allclose(logits, model.predict(images, verbose=0), atol=1e-4)

    # The first block's weights, recomputed here from its qkv kernel in NumPy.
    block = model.get_layer("encoder_0")
    first_input = keras.ops.convert_to_numpy(block.pre_norm(keras.Model(model.input, block.input)(images)))
    heads, head_dim = block.num_heads, block.embed_dim // block.num_heads
    qkv = (first_input @ keras.ops.convert_to_numpy(block.qkv.kernel)).reshape(len(images), -1, 3, heads, head_dim)
    query, key = qkv[:, :, 0].transpose(0, 2, 1, 3), qkv[:, :, 1].transpose(0, 2, 1, 3)
    scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(head_dim)
    expected = np.exp(scores - scores.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(weights[0], expected / expected.sum(axis=-1, keepdims=True), atol=1e-5)


def test_rollout_of_identity_attention_is_the_identity():
    weights = np.broadcast_to(np.eye(5), (3, 2, 4, 5, 5))
    np.testing.assert_allclose(attention_maps.attention_rollout(weights), np.broadcast_to(np.eye(5), (2, 5, 5)), atol=1e-6)


def test_rollout_mixes_residual_and_attention_over_layers():
    rng = np.random.default_rng(0)
    weights = rng.random((3, 2, 4, 6, 6))
    weights /= weights.sum(axis=-1, keepdims=True)
    rollout = attention_maps.attention_rollout(weights)
    np.testing.assert_allclose(rollout.sum(axis=-1), 1.0, atol=1e-5)
    # (W + I) / 2 per layer: the residual keeps half of each token, attention moves the other half.
    per_layer = [0.5 * layer.mean(axis=1) + 0.5 * np.eye(6) for layer in weights]
    np.testing.assert_allclose(rollout, per_layer[2] @ per_layer[1] @ per_layer[0], atol=1e-5)
    # Every token attending only to token 0 moves, after two layers, 3/4 of each row there.
    to_first = np.zeros((2, 1, 1, 4, 4))
    to_first[..., 0] = 1.0
    np.testing.assert_allclose(attention_maps.attention_rollout(to_first)[0, 1], [0.75, 0.25, 0.0, 0.0], atol=1e-6)


def test_mean_distance_of_uniform_attention_is_the_mean_distance_between_patches():
    layout = TokenLayout(skip=1, side=4, pixels=8.0)
    centres = [((r + 0.5) * 8, (c + 0.5) * 8) for r in range(4) for c in range(4)]
    by_hand = np.mean([np.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.product(centres, centres)])
    assert attention_maps.uniform_attention_distance(layout) == pytest.approx(by_hand)
    uniform = np.full((2, 3, 2, 17, 17), 1 / 17)  # the class token's share is left out
    np.testing.assert_allclose(attention_maps.mean_attention_distance(uniform, layout), by_hand, rtol=1e-6)


def test_mean_distance_of_local_attention():
    layout = TokenLayout(skip=0, side=3, pixels=4.0)
    to_self = np.broadcast_to(np.eye(9), (1, 2, 1, 9, 9))
    np.testing.assert_allclose(attention_maps.mean_attention_distance(to_self, layout), 0.0, atol=1e-6)
    # Each patch attends to its right-hand neighbour, the last column to its left-hand one: 4 pixels.
    sideways = np.zeros((1, 1, 2, 9, 9))
    for index in range(9):
        sideways[..., index, index + 1 if index % 3 < 2 else index - 1] = 1.0
    np.testing.assert_allclose(attention_maps.mean_attention_distance(sideways, layout), 4.0, atol=1e-6)
    with pytest.raises(ValueError, match="tokens per image"):
        attention_maps.mean_attention_distance(sideways, TokenLayout(skip=1, side=3, pixels=4.0))


def test_position_similarity():
    model = create_model("vit_lite_2_4", **SMALL)
    similarity = attention_maps.position_similarity(model)
    assert similarity.shape == (64, 64)  # the class token's row left out
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-5)
    np.testing.assert_allclose(similarity, similarity.T, atol=1e-6)
    table = keras.ops.convert_to_numpy(model.get_layer("position_embedding").embedding)[1:]
    assert similarity[3, 10] == pytest.approx(table[3] @ table[10] / np.linalg.norm(table[3]) / np.linalg.norm(table[10]), abs=1e-5)
    with pytest.raises(ValueError, match="no position embedding"):
        attention_maps.position_similarity(create_model("cvt_2_4", positional_embedding="none", **SMALL))


def test_figures(images):
    model = create_model("vit_lite_2_4", **SMALL)
    layout = attention_maps.token_layout(model)
    weights = attention_maps.attention_weights(model, images)
    figures = [
        attention_maps.plot_query_attention(images, weights, layout, titles=["a", "b", "c"]),
        attention_maps.plot_rollout(images, attention_maps.attention_rollout(weights), layout),
        attention_maps.plot_mean_distance(attention_maps.mean_attention_distance(weights, layout), layout),
        attention_maps.plot_position_similarity(attention_maps.position_similarity(model), layout),
    ]
    assert [len(figure.axes) for figure in figures] == [3 * 3 + 1, 2 * 3 + 1, 1, 64 + 1]  # panels and a colour bar
    for figure in figures:
        plt.close(figure)
