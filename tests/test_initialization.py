"""Initial weights: every layer its own draw, the official distributions, reproducible by seed;
and the function of the shipped model pinned, so a refactor cannot change it silently.
Backend-agnostic (test_backends.py runs this file on JAX too)."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.layers import initializers
from helpers.models import create_model
from helpers.runtime.device import set_seed

PINNED_LOGITS = Path(__file__).parent / "data" / "cct_2_3x2_pinned_logits.json"


def trainable_values(model):
    return {weight.path: np.asarray(weight.numpy()).ravel() for weight in model.trainable_weights}


def official_start(path, shape):
    """How the official code starts a weight: ("constant", value) or ("std", target spread)."""
    if "tokenizer/projection/bias" in path:  # PyTorch's conv default: uniform +-1/sqrt(4*4*3)
        return "std", 1 / math.sqrt(48) / math.sqrt(3)
    if path.endswith(("beta", "bias", "class_token/token")):
        return "constant", 0.0
    if path.endswith("gamma"):
        return "constant", 1.0
    if "tokenizer/" in path:  # Kaiming normal; fan-in = kernel area x input channels
        return "std", math.sqrt(2.0 / np.prod(shape[:-1]))
    if "position_embedding" in path:
        return "std", initializers.POSITION_EMBEDDING_STD
    return "std", initializers.LINEAR_STD


@pytest.mark.parametrize("name", ["cct_7_3x1", "vit_lite_7_4", "cct_2_3x2"])
def test_every_kernel_starts_from_its_own_values(name):
    set_seed(0)
    model = create_model(name)
    kernels = {
        weight.path: np.asarray(weight.numpy()).ravel()
        for weight in model.trainable_weights
        if official_start(weight.path, weight.shape)[0] == "std" and np.prod(weight.shape) >= 256
    }
    assert len(kernels) >= 10
    for (path_a, a), (path_b, b) in itertools.combinations(kernels.items(), 2):
        n = min(a.size, b.size)  # a shared random stream would make one a prefix of the other
        assert not np.array_equal(a[:n], b[:n]), f"{path_a} and {path_b} start from the same values"


@pytest.mark.parametrize("name", ["cct_7_3x1", "vit_lite_7_4"])
def test_initial_distributions_match_the_official_code(name):
    set_seed(1)
    checked = 0
    for weight in create_model(name).trainable_weights:
        values = np.asarray(weight.numpy())
        kind, target = official_start(weight.path, values.shape)
        if kind == "constant":
            np.testing.assert_array_equal(values, target, err_msg=weight.path)
        elif values.size >= 1000:  # fewer values would not pin the spread to 10%
            assert abs(values.mean()) < 0.1 * target, weight.path
            assert values.std() == pytest.approx(target, rel=0.1), weight.path
            checked += 1
    assert checked >= 2 + 4 * 7  # tokenizer, position embedding, 4 kernels in each of 7 blocks


def test_patch_bias_is_uniform_like_pytorchs_conv_default():
    set_seed(2)
    bias = np.asarray(create_model("cvt_7_4").get_layer("tokenizer").projection.bias.numpy())
    bound = 1 / math.sqrt(4 * 4 * 3)
    assert np.all(np.abs(bias) <= bound) and bias.max() > 0.8 * bound and bias.min() < -0.8 * bound


def test_a_seed_reproduces_a_model_and_no_reseed_gives_another():
    set_seed(3)
    first = trainable_values(create_model("cct_2_3x2"))
    second = trainable_values(create_model("cct_2_3x2"))
    set_seed(3)
    again = trainable_values(create_model("cct_2_3x2"))
    assert all(np.array_equal(first[path], again[path]) for path in first)
    assert not np.array_equal(first["encoder_0/qkv/kernel"], second["encoder_0/qkv/kernel"])


def test_shipped_model_function_is_pinned():
    pinned = json.loads(PINNED_LOGITS.read_text())
    _, (x_test, y_test) = load_cifar10_sample()
    model = create_model(pinned["model"], weights="cifar10", dtype="float32")
    logits = np.asarray(model.predict(x_test[:8], verbose=0))
    assert y_test[:8].ravel().tolist() == pinned["labels"]
    np.testing.assert_allclose(logits, np.array(pinned["logits"]), atol=2e-4, rtol=0)
