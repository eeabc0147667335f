"""Tokenizers: turn an image (B, H, W, C) into a sequence of tokens (B, N, D).

ViT-Lite and CVT cut the image into non-overlapping patches (`PatchTokenizer`).
CCT replaces that with a small convolutional stem (`ConvTokenizer`), which adds the
locality bias of a CNN and lets the patches overlap.
"""

import keras
from keras import ops

from helpers.layers import initializers


@keras.saving.register_keras_serializable(package="cct")
class PatchTokenizer(keras.layers.Layer):
    """Non-overlapping `patch_size` x `patch_size` patches, each flattened and projected.

    Flattening a p x p x C patch and multiplying by a (p*p*C, D) matrix is exactly a
    convolution with kernel size = stride = p and D filters: the projection's kernel,
    reshaped to (p, p, C, D), *is* that convolution's kernel. Notebook 01 checks this.
    """

    def __init__(self, patch_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.embed_dim = embed_dim
        # As the official tokenizer: a Kaiming-normal kernel and PyTorch's default conv bias.
        fan_in = patch_size * patch_size * 3  # RGB images; build() checks the channels
        self.projection = keras.layers.Dense(
            embed_dim,
            kernel_initializer=initializers.kaiming_normal(),
            bias_initializer=initializers.pytorch_conv_bias(fan_in),
            name="projection",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        _, height, width, channels = _check_image_shape(input_shape, type(self).__name__)
        for side, size in (("height", height), ("width", width)):
            if size % self.patch_size:
                raise ValueError(
                    f"Image {side} {size} is not divisible by the patch size {self.patch_size}: "
                    f"choose an image size that is a multiple of {self.patch_size} "
                    f"(e.g. {size - size % self.patch_size}) or another patch size."
                )
        self.projection.build((None, None, self.patch_size * self.patch_size * channels))

    def extract_patches(self, images):
        """(B, H, W, C) -> (B, H/p * W/p, p*p*C), patches in row-major order."""
        p = self.patch_size
        _, height, width, channels = images.shape
        rows, cols = height // p, width // p
        x = ops.reshape(images, (-1, rows, p, cols, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, rows, cols, p, p, C)
        return ops.reshape(x, (-1, rows * cols, p * p * channels))

    def call(self, images):
        return self.projection(self.extract_patches(images))

    def compute_output_shape(self, input_shape):
        _, height, width, _ = input_shape
        return (input_shape[0], (height // self.patch_size) * (width // self.patch_size), self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "patch_size": self.patch_size, "embed_dim": self.embed_dim}


def conv_tokenizer_stride(kernel_size):
    """The official default: kernel 3 -> stride 1, kernel 7 -> stride 2."""
    return max(1, kernel_size // 2 - 1)


def conv_tokenizer_padding(kernel_size):
    return max(1, kernel_size // 2)


@keras.saving.register_keras_serializable(package="cct")
class ConvTokenizer(keras.layers.Layer):
    """CCT's convolutional tokenizer: `num_conv_layers` x [Conv (no bias) -> ReLU -> MaxPool].

    Inner convolutions have `hidden_channels` filters, the last one `embed_dim`; the
    feature map is then read out pixel by pixel as the token sequence.
    Padding follows PyTorch's `padding=`: the same number of zeros on every side. Keras' "same"
    does that only with stride 1 (where the convolution uses it); with stride 2 it pads
    asymmetrically and would shift every window by one pixel, so there a ZeroPadding2D comes first.

    `call` applies ReLU *after* the max-pool: ReLU is monotonic, so max(ReLU(x)) = ReLU(max(x))
    and the tokens are exactly the same, but ReLU (and its gradient) then runs on a quarter of
    the values. `feature_maps` keeps the paper's order, conv -> ReLU -> max-pool, to show it.
    """

    def __init__(
        self,
        embed_dim,
        kernel_size=3,
        num_conv_layers=1,
        hidden_channels=64,
        stride=None,
        padding=None,
        pooling_kernel_size=3,
        pooling_stride=2,
        pooling_padding=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        sublayer = dict(dtype=self.dtype_policy)  # a mixed-precision tokenizer is mixed all through
        self.embed_dim = embed_dim
        self.kernel_size = kernel_size
        self.num_conv_layers = num_conv_layers
        self.hidden_channels = hidden_channels
        self.stride = conv_tokenizer_stride(kernel_size) if stride is None else stride
        self.padding = conv_tokenizer_padding(kernel_size) if padding is None else padding
        self.pooling_kernel_size = pooling_kernel_size
        self.pooling_stride = pooling_stride
        self.pooling_padding = pooling_padding
        self.stages = []
        for i in range(num_conv_layers):
            filters = embed_dim if i == num_conv_layers - 1 else hidden_channels
            self.stages.append(
                [
                    *self._window_layers(i, filters),
                    keras.layers.ReLU(**sublayer),
                    # Zero padding equals PyTorch's -inf padding here: ReLU (before or after the
                    # pool) turns every window's maximum into max(0, ...) anyway.
                    keras.layers.ZeroPadding2D(pooling_padding, **sublayer),
                    keras.layers.MaxPooling2D(pooling_kernel_size, strides=pooling_stride, **sublayer),
                ]
            )

    def _window_layers(self, i, filters):
        """Stage `i`'s (padding, convolution) to `filters` channels."""
        sublayer = dict(dtype=self.dtype_policy)
        # With stride 1 and padding (kernel - 1) / 2, Keras' "same" pads exactly as PyTorch does,
        # inside the convolution: one copy of the feature map less, forward and backward.
        pads_like_same = self.stride == 1 and 2 * self.padding == self.kernel_size - 1
        return [
            keras.layers.Identity(**sublayer) if pads_like_same else keras.layers.ZeroPadding2D(self.padding, **sublayer),
            keras.layers.Conv2D(
                filters,
                self.kernel_size,
                strides=self.stride,
                padding="same" if pads_like_same else "valid",
                use_bias=False,
                kernel_initializer=initializers.kaiming_normal(),
                name=f"conv_{i}",
                **sublayer,
            ),
        ]

    def build(self, input_shape):
        shape = _check_image_shape(input_shape, type(self).__name__)
        for stage in self.stages:
            for layer in stage:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
        if shape[1] is not None and shape[1] < 1 or shape[2] is not None and shape[2] < 1:
            raise ValueError(
                f"Images of shape {tuple(input_shape[1:])} are too small for {self.num_conv_layers} "
                f"conv layers of kernel {self.kernel_size}: the feature map vanishes."
            )

    def stage_sizes(self, height, width):
        """[(conv output height, width, pooled height, width)] for each conv stage."""
        sizes = []
        for _ in range(self.num_conv_layers):
            height = (height + 2 * self.padding - self.kernel_size) // self.stride + 1
            width = (width + 2 * self.padding - self.kernel_size) // self.stride + 1
            pooled_height = (height + 2 * self.pooling_padding - self.pooling_kernel_size) // self.pooling_stride + 1
            pooled_width = (width + 2 * self.pooling_padding - self.pooling_kernel_size) // self.pooling_stride + 1
            sizes.append((height, width, pooled_height, pooled_width))
            height, width = pooled_height, pooled_width
        return sizes

    def feature_map_size(self, height, width):
        """Spatial size of the last feature map (one token per pixel of it)."""
        return self.stage_sizes(height, width)[-1][2:]

    def feature_maps(self, images):
        """Every stage's activations: [{"conv": ..., "relu": ..., "pool": ...}], each (B, H, W, C)."""
        if not self.built:
            self.build(images.shape)
            self.built = True
        maps, x = [], images
        for padding, conv, relu, pool_padding, pool in self.stages:
            stage = {"conv": conv(padding(x))}
            stage["relu"] = relu(stage["conv"])
            stage["pool"] = x = pool(pool_padding(stage["relu"]))
            maps.append(stage)
        return maps

    def call(self, images):
        x = images
        for padding, conv, relu, pool_padding, pool in self.stages:
            x = relu(pool(pool_padding(conv(padding(x)))))  # ReLU after the pool: see the class docstring
        _, height, width, channels = x.shape
        return ops.reshape(x, (-1, height * width, channels))

    def compute_output_shape(self, input_shape):
        height, width = self.feature_map_size(input_shape[1], input_shape[2])
        return (input_shape[0], height * width, self.embed_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "embed_dim": self.embed_dim,
            "kernel_size": self.kernel_size,
            "num_conv_layers": self.num_conv_layers,
            "hidden_channels": self.hidden_channels,
            "stride": self.stride,
            "padding": self.padding,
            "pooling_kernel_size": self.pooling_kernel_size,
            "pooling_stride": self.pooling_stride,
            "pooling_padding": self.pooling_padding,
        }


def _check_image_shape(input_shape, layer_name):
    input_shape = tuple(input_shape)
    if len(input_shape) != 4 or input_shape[-1] != 3:
        raise ValueError(
            f"{layer_name} expects RGB images of shape (batch, height, width, 3), "
            f"got shape {input_shape}. Grayscale images can be repeated over 3 channels "
            f"(np.repeat(x, 3, axis=-1))."
        )
    return input_shape
