"""The involution layer against a direct loop over positions, and the CCT variant built on it."""

import numpy as np
import pytest

import keras

from helpers.experiments.benchmark import count_macs
from helpers.layers import ConvTokenizer
from helpers.layers.involution import Involution, InvolutionTokenizer
from helpers.models import count_parameters, create_model


def involution_by_loops(x, reduce, gamma, beta, mean, variance, span, span_bias, kernel_size, groups, epsilon):
    """y[b, i, j, c] = sum over the window of H[b, i, j, u, v, group(c)] * x[b, i+u-K//2, j+v-K//2, c],
    H generated at (i, j) from x[b, i, j] alone; zeros outside the image."""
    batch, height, width, channels = x.shape
    half, per_group = kernel_size // 2, channels // groups
    y = np.zeros_like(x, dtype=np.float64)
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                hidden = x[b, i, j] @ reduce
                hidden = np.maximum((hidden - mean) / np.sqrt(variance + epsilon) * gamma + beta, 0)
                kernel = (hidden @ span + span_bias).reshape(kernel_size, kernel_size, groups)
                for u in range(kernel_size):
                    for v in range(kernel_size):
                        row, column = i + u - half, j + v - half
                        if 0 <= row < height and 0 <= column < width:
                            for c in range(channels):
                                y[b, i, j, c] += kernel[u, v, c // per_group] * x[b, row, column, c]
    return y


@pytest.mark.parametrize("kernel_size, groups, channels", [(3, 2, 8), (5, 1, 4), (3, 4, 16)])
def test_involution_equals_the_loop_over_positions(kernel_size, groups, channels):
    rng = np.random.default_rng(kernel_size + groups)
    x = rng.normal(size=(2, 6, 5, channels)).astype("float32")
    layer = Involution(kernel_size, groups, reduction_ratio=2)
    layer.build(x.shape)
    # Random weights everywhere, batch-norm statistics included, so every term is checked.
    for weight in layer.weights:
        weight.assign(rng.uniform(0.5, 1.5, weight.shape) if "variance" in weight.path else rng.normal(size=weight.shape))
    norm = layer.norm
    expected = involution_by_loops(
        x.astype(np.float64), *(np.asarray(w, np.float64) for w in (
            layer.reduce.kernel, norm.gamma, norm.beta, norm.moving_mean, norm.moving_variance, layer.span.kernel, layer.span.bias,
        )), kernel_size, groups, norm.epsilon,
    )
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), expected, rtol=1e-4, atol=1e-4)


def test_involution_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="odd"):
        Involution(kernel_size=4)
    with pytest.raises(ValueError, match="groups=3 does not divide the 8"):
        Involution(groups=3).build((None, 4, 4, 8))


def test_involution_tokenizer_keeps_the_token_grid_and_counts_its_parameters_by_hand():
    conv, involution = create_model("cct_2_3x2"), create_model("cct_2_3x2", tokenizer="involution")
    assert conv.get_layer("tokenizer").output.shape == involution.get_layer("tokenizer").output.shape == (None, 64, 128)
    assert isinstance(involution.get_layer("tokenizer"), InvolutionTokenizer)
    # Per block: 1x1 projection C_in*C_out; involution over C channels in C/16 groups, r = 4:
    # C*C/4 (reduce) + 2*C/4 (batch norm's scale and shift) + (C/4 + 1)*9*C/16 (span, with bias).
    def block(c_in, c):
        return c_in * c + c * c // 4 + 2 * c // 4 + (c // 4 + 1) * 9 * (c // 16)

    tokenizer = block(3, 64) + block(64, 128)
    assert tokenizer == 16_588
    assert count_parameters(involution) == count_parameters(conv) - (3 * 3 * 3 * 64 + 3 * 3 * 64 * 128) + tokenizer


def test_involution_macs_by_hand():
    # At 32x32 then 16x16: projection C_in*C, then C*C/4 + C/4*9*G to make the kernel, 9*C to apply it.
    def per_position(c_in, c):
        return c_in * c + c * c // 4 + c // 4 * 9 * (c // 16) + 9 * c

    by_hand = 32 * 32 * per_position(3, 64) + 16 * 16 * per_position(64, 128)
    conv_tokenizer = 32 * 32 * 9 * 3 * 64 + 16 * 16 * 9 * 64 * 128
    difference = count_macs(create_model("cct_2_3x2"))[0] - count_macs(create_model("cct_2_3x2", tokenizer="involution"))[0]
    assert difference == conv_tokenizer - by_hand


def test_involution_model_saves_and_loads(tmp_path):
    model = create_model("cct_2_3x2", tokenizer="involution")
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3)).astype("uint8")
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.get_layer("tokenizer"), ConvTokenizer)  # a ConvTokenizer in every other respect
