"""Involution (Li et al., CVPR 2021, "Involution: Inverting the Inherence of Convolution for Visual
Recognition") and a CCT tokenizer built on it, for notebook 07.

A convolution shares one K x K kernel over every position and keeps a separate one per
(input, output) channel pair. Involution inverts both: at every position (i, j) it generates a
K x K kernel from the input there, and the C/G channels of each of G groups share it:

    H_ij = W_1 ReLU(BN(W_0 x_ij))                                   K*K*G numbers per position
    y_ijc = sum over (u, v) in the K x K window of H_ij[u, v, group(c)] * x_(i+u-K//2, j+v-K//2, c)

W_0 (C -> C/r) and W_1 (C/r -> K*K*G) act on one position at a time (1x1 convolutions, here Dense
layers on the channel axis, which is the same thing). Involution keeps the channel count, so
`InvolutionTokenizer` puts a pointwise projection before it to change the channels.
"""

import keras
from keras import ops

from helpers.layers import initializers
from helpers.layers.tokenizers import ConvTokenizer

GROUP_CHANNELS = 16  # channels per group, as in the official RedNet code


@keras.saving.register_keras_serializable(package="cct")
class Involution(keras.layers.Layer):
    """Involution with a `kernel_size` x `kernel_size` window at stride 1 ("same" zero padding):
    the output has the input's shape. `groups` must divide the channels; the kernel generator
    squeezes the channels by `reduction_ratio` (at least 1 channel)."""

    def __init__(self, kernel_size=3, groups=1, reduction_ratio=4, **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f"kernel_size must be odd (a window centred on its position), got {kernel_size!r}.")
        self.kernel_size = kernel_size
        self.groups = groups
        self.reduction_ratio = reduction_ratio

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"groups={self.groups} does not divide the {channels} input channels.")
        sublayer = dict(dtype=self.dtype_policy)
        self.reduce = keras.layers.Dense(max(channels // self.reduction_ratio, 1), use_bias=False, name="reduce", **sublayer)
        self.norm = keras.layers.BatchNormalization(name="norm", **sublayer)
        self.span = keras.layers.Dense(self.kernel_size**2 * self.groups, name="span", **sublayer)
        self.reduce.build(input_shape)
        reduced_shape = self.reduce.compute_output_shape(input_shape)
        self.norm.build(reduced_shape)
        self.span.build(reduced_shape)

    def kernels(self, x, training=None):
        """The generated kernels, (batch, H, W, K*K, groups): window offset (u, v) at index u*K + v."""
        height, width = x.shape[1], x.shape[2]
        values = self.span(ops.relu(self.norm(self.reduce(x), training=training)))
        return ops.reshape(values, (-1, height, width, self.kernel_size**2, self.groups))

    def call(self, x, training=None):
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        k, half = self.kernel_size, self.kernel_size // 2
        kernels = self.kernels(x, training=training)
        padded = ops.pad(x, [[0, 0], [half, half], [half, half], [0, 0]])
        # Sum over the window's K*K offsets, each a shifted copy of the map times that offset's
        # kernel value, shared by a group's channels. (Stacking the K*K copies into one tensor
        # first computes the same, and measured several times slower on a CPU: K*K times the memory.)
        total = None
        for u in range(k):
            for v in range(k):
                shifted = ops.reshape(padded[:, u : u + height, v : v + width, :], (-1, height, width, self.groups, channels // self.groups))
                term = ops.expand_dims(kernels[:, :, :, u * k + v, :], -1) * shifted
                total = term if total is None else total + term
        return ops.reshape(total, (-1, height, width, channels))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def macs_per_position(self, channels):
        """Multiply-accumulates at one position for `channels` channels: generating its kernel
        (C * C/r + C/r * K*K*G) and applying it (K*K*C); the batch norm is left out."""
        reduced = max(channels // self.reduction_ratio, 1)
        return channels * reduced + reduced * self.kernel_size**2 * self.groups + self.kernel_size**2 * channels

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "groups": self.groups,
            "reduction_ratio": self.reduction_ratio,
        }


@keras.saving.register_keras_serializable(package="cct")
class InvolutionTokenizer(ConvTokenizer):
    """CCT's tokenizer with each K x K convolution replaced by a pointwise projection to the
    block's channels, then an involution over them: [1x1 Conv -> Involution -> ReLU -> MaxPool].

    The projection comes first so that the involution works on 64 or `embed_dim` channels (its
    kernels are generated from them) rather than on the image's 3; the pair splits what one
    convolution does, mixing channels (the projection) and mixing space (the involution), as a
    depthwise-separable convolution does. Sizes, pooling, `feature_maps` and the token read-out
    are `ConvTokenizer`'s, so the token grid is the same: only the stride-1 window differs."""

    def __init__(self, embed_dim, kernel_size=3, num_conv_layers=1, hidden_channels=64, reduction_ratio=4, **kwargs):
        self.reduction_ratio = reduction_ratio  # before ConvTokenizer builds the stages with it
        kwargs.update(stride=1, padding=kernel_size // 2)  # involution's window: stride 1, "same"
        super().__init__(embed_dim, kernel_size, num_conv_layers, hidden_channels, **kwargs)

    def _window_layers(self, i, filters):
        """Stage `i`'s (projection to `filters` channels, involution over them)."""
        sublayer = dict(dtype=self.dtype_policy)
        return [
            keras.layers.Conv2D(
                filters, 1, use_bias=False, kernel_initializer=initializers.kaiming_normal(), name=f"projection_{i}",
                **sublayer,
            ),
            Involution(self.kernel_size, max(filters // GROUP_CHANNELS, 1), self.reduction_ratio, name=f"involution_{i}", **sublayer),
        ]

    def get_config(self):
        config = super().get_config()
        for fixed in ("stride", "padding"):
            del config[fixed]
        return {**config, "reduction_ratio": self.reduction_ratio}
