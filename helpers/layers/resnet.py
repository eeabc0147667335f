"""The basic residual block of He et al. (2016), *Deep Residual Learning for Image Recognition*,
as its CIFAR-10 networks use it (section 4.2): the CNN baseline that notebook 06 sets beside
the compact transformers.

    conv 3x3 (stride s) -> BatchNorm -> ReLU -> conv 3x3 -> BatchNorm, + shortcut -> ReLU

The shortcut is the paper's option A, which adds no parameters: where the block halves the
feature map and widens it, the input is subsampled (every second pixel) and its new channels
are zeros; elsewhere it is the identity.
"""

import keras
from keras import ops

from helpers.layers import initializers

# PyTorch's BatchNorm defaults (running averages updated by 0.1 a step), as the usual CIFAR ResNets.
BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="cct")
class BasicBlock(keras.layers.Layer):
    """Two 3x3 convolutions with BatchNorm and a parameter-free (option A) shortcut.

    filters: the output channels; strides: 1, or 2 to halve height and width. The convolutions
    have no bias (the BatchNorm after each has its own shift) and start Kaiming-normal."""

    def __init__(self, filters, strides=1, **kwargs):
        super().__init__(**kwargs)
        if strides not in (1, 2):
            raise ValueError(f"strides must be 1 or 2, got {strides!r}.")
        self.filters = filters
        self.strides = strides
        sublayer = dict(dtype=self.dtype_policy)
        conv = dict(kernel_size=3, use_bias=False, kernel_initializer=initializers.kaiming_normal(), **sublayer)
        norm = dict(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, **sublayer)
        # PyTorch's padding=1 pads every side; Keras' "same" does that only at stride 1.
        self.pad = keras.layers.ZeroPadding2D(1, **sublayer) if strides == 2 else keras.layers.Identity(**sublayer)
        self.conv_1 = keras.layers.Conv2D(filters, strides=strides, padding="valid" if strides == 2 else "same", name="conv_1", **conv)
        self.norm_1 = keras.layers.BatchNormalization(name="norm_1", **norm)
        self.conv_2 = keras.layers.Conv2D(filters, padding="same", name="conv_2", **conv)
        self.norm_2 = keras.layers.BatchNormalization(name="norm_2", **norm)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels > self.filters:
            raise ValueError(f"An option-A shortcut can only widen: {channels} input channels, {self.filters} filters.")
        self.pad.build(input_shape)
        for (conv, shape), norm in zip(self.convolutions(input_shape), (self.norm_1, self.norm_2)):
            conv.build(shape)
            norm.build(conv.compute_output_shape(shape))

    def convolutions(self, input_shape):
        """[(convolution, the shape of its input)], in order, for inputs of `input_shape`."""
        padded = self.pad.compute_output_shape(input_shape)
        return [(self.conv_1, padded), (self.conv_2, self.conv_1.compute_output_shape(padded))]

    def shortcut(self, x):
        """Option A: every `strides`-th pixel, and zeros for the channels the block adds."""
        if self.strides > 1:
            x = x[:, :: self.strides, :: self.strides, :]
        extra = self.filters - x.shape[-1]
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])
        return x

    def call(self, x, training=None):
        y = ops.relu(self.norm_1(self.conv_1(self.pad(x)), training=training))
        y = self.norm_2(self.conv_2(y), training=training)
        return ops.relu(y + self.shortcut(x))

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        halve = (lambda side: None if side is None else -(-side // 2)) if self.strides == 2 else (lambda side: side)
        return (batch, halve(height), halve(width), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}
