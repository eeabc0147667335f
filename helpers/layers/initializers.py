"""Initial weights as the official PyTorch code draws them.

Each function returns a *new* initializer. That matters: Keras fixes an unseeded
initializer's seed when the object is created (from Python's `random`, which
`keras.utils.set_random_seed` seeds), and an initializer called twice with one seed draws
the same numbers twice. One object shared by several layers would start them all from the
same weights; one object per layer gives every layer its own draw, and the same seed gives
the same model.
"""

import math

import keras

LINEAR_STD = 0.02
POSITION_EMBEDDING_STD = 0.2


def linear():
    """Linear (Dense) kernels: the official `trunc_normal_(std=0.02)`. Its cut-offs are +-2 in
    absolute value, a hundred standard deviations out, so it is a plain normal. (Keras'
    TruncatedNormal cuts at 2 standard deviations and would shrink the spread.)"""
    return keras.initializers.RandomNormal(stddev=LINEAR_STD)


def position_embedding():
    """The learnable position table: `trunc_normal_(std=0.2)`, cut at +-2 = 10 standard
    deviations, so again a plain normal."""
    return keras.initializers.RandomNormal(stddev=POSITION_EMBEDDING_STD)


def kaiming_normal():
    """Convolution kernels: PyTorch's `kaiming_normal_` (fan-in, gain sqrt(2), untruncated).
    Keras' HeNormal truncates, so the variance scaling is spelled out."""
    return keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal")


def pytorch_conv_bias(fan_in):
    """A PyTorch convolution's default bias, which the official patch tokenizer keeps:
    uniform in +-1/sqrt(fan_in), fan_in = kernel height x width x input channels."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)
