"""Layer tests: backend-agnostic (run under TensorFlow and, via test_backends.py, JAX)."""

import numpy as np
import pytest

import keras

from helpers.layers import (
    ClassToken,
    ClassTokenReadout,
    ConvTokenizer,
    LayerNorm,
    PatchTokenizer,
    PositionEmbedding,
    SeqPool,
    StochasticDepth,
    TransformerEncoder,
    sinusoidal_table,
)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_patch_tokenizer_shape(images):
    assert PatchTokenizer(4, 128)(images).shape == (8, 64, 128)


def test_patch_tokenizer_equals_strided_convolution(images):
    tokenizer = PatchTokenizer(4, 16)
    tokens = numpy(tokenizer(images))
    conv = keras.layers.Conv2D(16, 4, strides=4)
    conv.build(images.shape)
    kernel, bias = tokenizer.projection.get_weights()
    conv.set_weights([kernel.reshape(4, 4, 3, 16), bias])
    feature_map = numpy(conv(images))  # (8, 8, 8, 16)
    np.testing.assert_allclose(tokens, feature_map.reshape(8, 64, 16), rtol=1e-4, atol=1e-3)


def test_patch_tokenizer_rejects_indivisible_image_size():
    with pytest.raises(ValueError, match="not divisible by the patch size 4"):
        PatchTokenizer(4, 32)(np.zeros((1, 30, 30, 3), "float32"))


@pytest.mark.parametrize("layer", [PatchTokenizer(4, 8), ConvTokenizer(8)])
def test_tokenizers_reject_non_rgb(layer):
    with pytest.raises(ValueError, match="RGB images"):
        layer(np.zeros((1, 32, 32, 1), "float32"))


@pytest.mark.parametrize(
    "kernel_size, num_conv_layers, image_size, tokens",
    [(3, 1, 32, 256), (3, 2, 32, 64), (7, 2, 224, 196)],
)
def test_conv_tokenizer_sequence_length(kernel_size, num_conv_layers, image_size, tokens):
    tokenizer = ConvTokenizer(32, kernel_size=kernel_size, num_conv_layers=num_conv_layers)
    output = tokenizer(np.zeros((2, image_size, image_size, 3), "float32"))
    assert output.shape == (2, tokens, 32)
    assert tokenizer.compute_output_shape((2, image_size, image_size, 3)) == (2, tokens, 32)


def test_conv_tokenizer_official_stride_and_padding():
    assert (ConvTokenizer(8, kernel_size=3).stride, ConvTokenizer(8, kernel_size=3).padding) == (1, 1)
    assert (ConvTokenizer(8, kernel_size=7).stride, ConvTokenizer(8, kernel_size=7).padding) == (2, 3)


@pytest.mark.parametrize("kernel_size", [3, 5, 7])  # 3 and 5 pad inside the conv ("same"), 7 before it
def test_conv_tokenizer_pads_like_pytorch(kernel_size):
    """Each convolution sees `padding` rows and columns of zeros on every side, as PyTorch's `padding=`."""
    tokenizer = ConvTokenizer(8, kernel_size=kernel_size, num_conv_layers=1)
    x = np.random.default_rng(5).normal(size=(2, 16, 16, 3)).astype("float32")
    conv = numpy(tokenizer.feature_maps(x)[0]["conv"])
    p = tokenizer.padding
    padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    expected = keras.ops.conv(padded, tokenizer.stages[0][1].kernel, strides=tokenizer.stride, padding="valid")
    np.testing.assert_allclose(conv, numpy(expected), rtol=1e-5, atol=1e-5)


def test_conv_tokenizer_pools_like_pytorch():
    """Max-pool 3, stride 2, padding 1: window i covers rows 2i-1..2i+1 (not Keras' 'same' 2i..2i+2)."""
    tokenizer = ConvTokenizer(1, kernel_size=3, num_conv_layers=1)
    tokenizer.build((1, 4, 4, 3))
    kernel = np.zeros((3, 3, 3, 1), "float32")
    kernel[1, 1, 0, 0] = 1.0  # identity on the red channel
    tokenizer.stages[0][1].set_weights([kernel])
    image = np.zeros((1, 4, 4, 3), "float32")
    image[0, :, :, 0] = np.arange(16).reshape(4, 4)
    pooled = numpy(tokenizer(image)).reshape(2, 2)
    np.testing.assert_array_equal(pooled, [[5, 7], [13, 15]])


def test_position_embedding_kinds():
    tokens = np.zeros((2, 5, 6), "float32")
    learnable = PositionEmbedding("learnable")
    assert numpy(learnable(tokens)).std() > 0
    assert len(learnable.trainable_weights) == 1
    sine = PositionEmbedding("sine")
    np.testing.assert_allclose(numpy(sine(tokens))[0], sinusoidal_table(5, 6), atol=1e-6)
    assert not sine.trainable_weights
    np.testing.assert_array_equal(numpy(PositionEmbedding("none")(tokens + 1)), tokens + 1)
    with pytest.raises(ValueError, match="Unknown position embedding"):
        PositionEmbedding("rotary")


def test_sinusoidal_table_values():
    table = sinusoidal_table(4, 6)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1], atol=1e-7)
    np.testing.assert_allclose(table[3, 0], np.sin(3.0), rtol=1e-6)
    np.testing.assert_allclose(table[3, 3], np.cos(3 / 10000 ** (2 / 6)), rtol=1e-6)


def test_class_token_prepends_and_reads_out():
    tokens = np.ones((3, 4, 8), "float32")
    with_token = ClassToken()(tokens)
    assert with_token.shape == (3, 5, 8)
    np.testing.assert_array_equal(numpy(ClassTokenReadout()(with_token)), np.zeros((3, 8)))


def test_seqpool_weights_sum_to_one_and_pool():
    tokens = np.random.default_rng(1).normal(size=(4, 10, 8)).astype("float32")
    pool = SeqPool()
    pooled, weights = pool(tokens, return_weights=True)
    pooled, weights = numpy(pooled), numpy(weights)
    assert pooled.shape == (4, 8) and weights.shape == (4, 10)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(pooled, np.einsum("bn,bnd->bd", weights, tokens), rtol=1e-4, atol=1e-5)
    kernel, bias = pool.score.get_weights()
    scores = tokens @ kernel[:, 0] + bias[0]
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(weights, expected, rtol=1e-4)
    assert len(pool.trainable_weights) == 2


def test_stochastic_depth_drops_whole_samples():
    x = np.ones((200, 3, 4), "float32")
    layer = StochasticDepth(0.5, seed=1)
    np.testing.assert_array_equal(numpy(layer(x, training=False)), x)
    out = numpy(layer(x, training=True))
    per_sample = out.reshape(200, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 60 < (per_sample[:, 0] == 0).sum() < 140
    with pytest.raises(ValueError):
        StochasticDepth(1.0)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_attention_dropout_drops_at_its_rate_and_rescales(dtype):
    from helpers.layers.encoder import dropout

    x = keras.ops.ones((100, 1000), dtype=dtype)
    out = numpy(keras.ops.cast(dropout(x, 0.1, keras.random.SeedGenerator(0)), "float32"))
    assert set(np.unique(out)) == {0.0, np.float32(keras.ops.cast(1 / 0.9, dtype))}
    assert 0.095 < (out == 0).mean() < 0.105  # 100,000 draws: sigma 0.00095, so +-0.005 is over 5 sigma


def test_transformer_encoder_shape_and_parameter_count():
    dim, ratio = 32, 2
    block = TransformerEncoder(dim, num_heads=4, mlp_ratio=ratio)
    x = np.random.default_rng(2).normal(size=(2, 7, dim)).astype("float32")
    assert block(x).shape == (2, 7, dim)
    hidden = dim * ratio
    expected = 4 * dim + (3 * dim * dim + dim * dim + dim) + (dim * hidden + hidden + hidden * dim + dim)
    assert sum(int(np.prod(w.shape)) for w in block.trainable_weights) == expected


def test_transformer_encoder_is_deterministic_at_inference():
    block = TransformerEncoder(16, num_heads=2, attention_dropout=0.5, drop_path_rate=0.5)
    # 32 samples: with 2, both calls could drop every branch of every sample and agree by chance.
    x = np.random.default_rng(3).normal(size=(32, 5, 16)).astype("float32")
    np.testing.assert_array_equal(numpy(block(x)), numpy(block(x)))
    assert not np.allclose(numpy(block(x, training=True)), numpy(block(x, training=True)))


def test_transformer_encoder_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        TransformerEncoder(30, num_heads=4)


@pytest.mark.parametrize(
    "layer",
    [
        PatchTokenizer(4, 8),
        ConvTokenizer(8, kernel_size=7, num_conv_layers=2),
        PositionEmbedding("sine"),
        StochasticDepth(0.2),
        TransformerEncoder(16, 2, mlp_ratio=1.0, drop_path_rate=0.05),
        LayerNorm(epsilon=1e-5),
    ],
)
def test_layers_round_trip_through_config(layer):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_fused_attention_equals_keras_multi_head_attention():
    x = np.random.default_rng(4).normal(size=(2, 9, 32)).astype("float32")
    block = TransformerEncoder(32, 4, 2.0)
    block(x)
    rng = np.random.default_rng(5)
    for weight in block.trainable_weights:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    # Keras' layer with the block's weights: the fused qkv kernel split in three, heads on their own axis.
    reference = keras.layers.MultiHeadAttention(4, key_dim=8)
    reference(x, x)
    qkv = numpy(block.qkv.kernel).reshape(32, 3, 4, 8)
    for index, dense in enumerate((reference.query_dense, reference.key_dense, reference.value_dense)):
        dense.set_weights([qkv[:, index], np.zeros((4, 8), "float32")])
    reference.output_dense.set_weights([numpy(block.attention_projection.kernel).reshape(4, 8, 32), numpy(block.attention_projection.bias)])
    np.testing.assert_allclose(numpy(block.self_attention(x)), numpy(reference(x, x)), rtol=1e-5, atol=1e-5)
    assert tuple(block.qkv.kernel.shape) == (32, 96) and block.qkv.bias is None  # one fused, bias-free projection


def test_conv_tokenizer_feature_maps_end_in_the_tokens(images):
    tokenizer = ConvTokenizer(16, kernel_size=3, num_conv_layers=2)
    maps = tokenizer.feature_maps(images)
    assert [stage["conv"].shape for stage in maps] == [(8, 32, 32, 64), (8, 16, 16, 16)]
    assert numpy(maps[0]["relu"]).min() >= 0
    np.testing.assert_allclose(numpy(maps[-1]["pool"]).reshape(8, 64, 16), numpy(tokenizer(images)), rtol=1e-6)


def output_and_gradients(layer, x, upstream):
    """The layer's output on x and the gradients of sum(output * upstream) with respect to x and
    to the layer's trainable weights, on TensorFlow or JAX."""
    if keras.backend.backend() == "jax":
        import jax

        def loss(x, weights):
            y, _ = layer.stateless_call(weights, [], x)
            return keras.ops.sum(keras.ops.cast(y, "float32") * upstream), y

        (_, y), (dx, dweights) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
            x, [variable.value for variable in layer.trainable_variables]
        )
        return y, [dx, *dweights]
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    return y, tape.gradient(loss, [x, *layer.trainable_variables])


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_layer_norm_equals_keras_layer_normalization_with_its_gradients(dtype):
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.normal(1.0, 3.0, size=(4, 9, 16)).astype("float32"))
    upstream = keras.ops.convert_to_tensor(rng.normal(size=(4, 9, 16)).astype("float32"))
    ours, theirs = LayerNorm(epsilon=1e-5, dtype=dtype), keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype)
    for layer in (ours, theirs):
        layer.build(x.shape)
        layer.gamma.assign(rng.uniform(0.5, 1.5, 16) if layer is ours else numpy(ours.gamma))
        layer.beta.assign(rng.normal(size=16) if layer is ours else numpy(ours.beta))
    (y, grads), (expected_y, expected_grads) = output_and_gradients(ours, x, upstream), output_and_gradients(theirs, x, upstream)
    assert y.dtype == expected_y.dtype
    tolerance = 1e-5 if dtype == "float32" else 2e-2  # the output is rounded to bfloat16 there
    np.testing.assert_allclose(numpy(keras.ops.cast(y, "float32")), numpy(keras.ops.cast(expected_y, "float32")), atol=tolerance * 8)
    for name, grad, expected in zip(("x", "gamma", "beta"), grads, expected_grads):
        expected = numpy(keras.ops.cast(expected, "float32"))
        scale = np.abs(expected).max()
        np.testing.assert_allclose(numpy(keras.ops.cast(grad, "float32")), expected, atol=tolerance * scale, err_msg=name)
