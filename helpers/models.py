"""The paper's models: one general builder, the named variants as a table, and `create_model`.

Names follow Hassani et al. (2021): `cct_7_3x1` is 7 encoder layers, a 3x3 convolutional
tokenizer with 1 conv layer; `vit_lite_7_4` and `cvt_7_4` are 7 layers with 4x4 patches.

    model = build_compact_transformer(tokenizer="conv", pooling="seqpool", num_layers=7, ...)
    model = create_model("cct_7_3x1")        # a named variant
    model = create_model("cct_2_3x2", weights="cifar10")   # trained weights shipped here
    list_models()                            # every name, with what it is

The builders return a plain `keras.Model(images, logits)` made of the lesson's layers: raw
images in (0-255, normalised inside), logits out. `create_model` hands that model to
`helpers.runtime.classifier.ImageClassifier`, which keeps the same layers and adds what a user
needs around them (input checks, padding over devices, augmentation on the device).
"""

import json
from dataclasses import dataclass

import numpy as np

import keras

from helpers import ASSETS
from helpers.layers import (
    ClassToken,
    ClassTokenReadout,
    ConvTokenizer,
    PatchTokenizer,
    PositionEmbedding,
    SeqPool,
    TransformerEncoder,
    initializers,
)
from helpers.layers.encoder import LAYER_NORM_EPSILON
from helpers.layers.resnet import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, BasicBlock
from helpers.runtime.checks import check_images, check_num_classes, is_whole_number
from helpers.runtime.classifier import ImageClassifier

# The per-channel statistics the official code normalises CIFAR-10 with (official binary release).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# Encoder backbones by depth: (heads, embedding dim, MLP ratio), as in the paper's Table 1.
BACKBONES = {2: (2, 128, 1.0), 4: (2, 128, 1.0), 6: (4, 256, 2.0), 7: (4, 256, 2.0)}


def build_compact_transformer(
    *,
    tokenizer,
    pooling,
    num_layers,
    num_heads,
    embed_dim,
    mlp_ratio,
    num_classes=10,
    image_size=32,
    patch_size=4,
    kernel_size=3,
    num_conv_layers=1,
    positional_embedding="learnable",
    attention_dropout=0.1,
    dropout=0.0,
    stochastic_depth=0.1,
    dtype=None,
    name="compact_transformer",
):
    """Tokenizer -> (class token) -> position embedding -> encoder blocks -> LN -> pool -> Dense,
    as a plain `keras.Model(images, logits)`.

    tokenizer: "patch" (ViT-Lite, CVT), "conv" (CCT) or "involution" (CCT's tokenizer with
      involutions for its convolutions: notebook 07, not in the paper).
    pooling: "class_token" (ViT-Lite) or "seqpool" (CVT, CCT).
    dtype: a Keras dtype policy for every layer, e.g. "mixed_bfloat16" (compute in bfloat16,
    keep the weights in float32); None uses Keras' global policy (float32 by default). The
    logits are float32 either way.
    The model takes raw images of shape (N, image_size, image_size, 3) with pixel values
    0-255 and returns logits.
    """
    if tokenizer not in ("patch", "conv", "involution"):
        raise ValueError(f"tokenizer must be 'patch', 'conv' or 'involution', got {tokenizer!r}.")
    if pooling not in ("class_token", "seqpool"):
        raise ValueError(f"pooling must be 'class_token' or 'seqpool', got {pooling!r}.")
    num_classes = check_num_classes(num_classes)
    layer = dict(dtype=dtype)
    images, x = _normalized_images(_check_image_size(image_size), layer)
    if tokenizer == "patch":
        x = PatchTokenizer(patch_size, embed_dim, name="tokenizer", **layer)(x)
    else:
        if tokenizer == "involution":
            from helpers.layers.involution import InvolutionTokenizer as layer_class  # notebook 07's, loaded only for it
        else:
            layer_class = ConvTokenizer
        x = layer_class(embed_dim, kernel_size=kernel_size, num_conv_layers=num_conv_layers, name="tokenizer", **layer)(x)
    if pooling == "class_token":
        x = ClassToken(name="class_token", **layer)(x)
    x = PositionEmbedding(positional_embedding, name="position_embedding", **layer)(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout", **layer)(x)
    x = _encoder_blocks(x, num_layers, num_heads, embed_dim, mlp_ratio, attention_dropout, dropout, stochastic_depth, layer)
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm", **layer)(x)
    if pooling == "class_token":
        x = ClassTokenReadout(name="class_token_readout", **layer)(x)
    else:
        x = SeqPool(name="seq_pool", **layer)(x)
    # float32 logits: the loss and the predictions need no bfloat16 rounding, and this layer is tiny.
    logits = keras.layers.Dense(num_classes, kernel_initializer=initializers.linear(), name="classifier", dtype="float32")(x)
    return keras.Model(images, logits, name=name)


def _encoder_blocks(x, num_layers, num_heads, embed_dim, mlp_ratio, attention_dropout, dropout, stochastic_depth, layer):
    """`num_layers` encoder blocks; stochastic depth rises linearly from 0 in the first block to
    `stochastic_depth` in the last."""
    for i, rate in enumerate(np.linspace(0.0, stochastic_depth, num_layers)):
        x = TransformerEncoder(
            embed_dim,
            num_heads,
            mlp_ratio=mlp_ratio,
            attention_dropout=attention_dropout,
            dropout=dropout,
            drop_path_rate=float(rate),
            name=f"encoder_{i}",
            **layer,
        )(x)
    return x


def _check_image_size(image_size):
    if not (is_whole_number(image_size, 1) and image_size <= 1024):
        raise ValueError(f"image_size must be a whole number of pixels from 1 to 1,024, got {image_size!r}.")
    return int(image_size)


def _normalized_images(image_size, layer):
    """The input every model shares: raw RGB images (0-255), normalised with CIFAR-10's
    statistics. Returns (the Input, the normalised images)."""
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Normalization(
        mean=[255.0 * m for m in CIFAR10_MEAN],
        variance=[(255.0 * s) ** 2 for s in CIFAR10_STD],
        name="normalize",
        **layer,
    )(images)
    return images, x


def build_resnet(*, blocks_per_stage=3, widths=(16, 32, 64), num_classes=10, image_size=32, dtype=None, name="resnet"):
    """He et al.'s (2016, section 4.2) CIFAR ResNet of 6n+2 layers, n = `blocks_per_stage`
    (3: ResNet-20): a 3x3 convolution of widths[0] filters with BatchNorm and ReLU, then one
    stage of n basic blocks per width, the first block of every stage after the first halving
    the feature map; global average pooling; a dense classifier. Shortcuts are the paper's
    option A (parameter-free; `helpers.layers.resnet.BasicBlock`).

    A plain `keras.Model` taking and returning what the compact transformers do (raw images 0-255
    in, float32 logits out), so the same training takes it; `dtype` likewise."""
    num_classes = check_num_classes(num_classes)
    layer = dict(dtype=dtype)
    images, x = _normalized_images(_check_image_size(image_size), layer)
    x = keras.layers.Conv2D(
        widths[0], 3, padding="same", use_bias=False, kernel_initializer=initializers.kaiming_normal(), name="stem_conv", **layer
    )(x)
    x = keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON, name="stem_norm", **layer)(x)
    x = keras.layers.ReLU(name="stem_relu", **layer)(x)
    for stage, width in enumerate(widths):
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            x = BasicBlock(width, strides=strides, name=f"stage_{stage + 1}_block_{block + 1}", **layer)(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool", **layer)(x)
    logits = keras.layers.Dense(num_classes, name="classifier", dtype="float32")(x)
    return keras.Model(images, logits, name=name)


@dataclass(frozen=True)
class Variant:
    name: str
    family: str
    num_layers: int
    build_kwargs: dict
    image_size: int = 32
    in_paper: bool = True
    note: str = ""

    @property
    def paper_params_m(self):
        """Trainable parameters in millions as the official tables count them, or None."""
        from helpers.published import published_parameters  # the published table, read when asked

        return published_parameters(self.name)

    def describe(self):
        heads, dim, ratio = BACKBONES[self.num_layers]
        text = f"{self.family}: {self.num_layers} layers, {heads} heads, dim {dim}, MLP ratio {ratio:g}"
        if "patch_size" in self.build_kwargs:
            text += f", {self.build_kwargs['patch_size']}x{self.build_kwargs['patch_size']} patches"
        else:
            k, n = self.build_kwargs["kernel_size"], self.build_kwargs["num_conv_layers"]
            text += f", {n} conv layer{'s' * (n > 1)} of {k}x{k}"
        text += f", {self.image_size}x{self.image_size} images"
        return text + (f" ({self.note})" if self.note else "")


VARIANTS = {}


def _register(variant):
    VARIANTS[variant.name] = variant
    return variant


def _vit_lite(num_layers, patch_size, **kwargs):
    return dict(tokenizer="patch", pooling="class_token", patch_size=patch_size, num_layers=num_layers, **kwargs)


def _cvt(num_layers, patch_size, **kwargs):
    return dict(tokenizer="patch", pooling="seqpool", patch_size=patch_size, num_layers=num_layers, **kwargs)


def _cct(num_layers, kernel_size, num_conv_layers, **kwargs):
    return dict(
        tokenizer="conv",
        pooling="seqpool",
        kernel_size=kernel_size,
        num_conv_layers=num_conv_layers,
        num_layers=num_layers,
        **kwargs,
    )


_NOT_IN_PAPER = "not in the paper's table: the 2-layer backbone for small comparisons with cct_2_3x2"

for _name, _family, _layers, _kwargs, _extra in [
    ("vit_lite_2_4", "ViT-Lite", 2, _vit_lite(2, 4), dict(in_paper=False, note=_NOT_IN_PAPER)),
    ("vit_lite_6_4", "ViT-Lite", 6, _vit_lite(6, 4), {}),
    ("vit_lite_7_4", "ViT-Lite", 7, _vit_lite(7, 4), {}),
    ("cvt_2_4", "CVT", 2, _cvt(2, 4), dict(in_paper=False, note=_NOT_IN_PAPER)),
    ("cvt_6_4", "CVT", 6, _cvt(6, 4), {}),
    ("cvt_7_4", "CVT", 7, _cvt(7, 4), {}),
    ("cct_2_3x2", "CCT", 2, _cct(2, 3, 2), {}),
    ("cct_4_3x2", "CCT", 4, _cct(4, 3, 2), {}),
    ("cct_6_3x1", "CCT", 6, _cct(6, 3, 1), {}),
    ("cct_6_3x2", "CCT", 6, _cct(6, 3, 2), {}),
    ("cct_7_3x1", "CCT", 7, _cct(7, 3, 1), {}),
    ("cct_7_3x2", "CCT", 7, _cct(7, 3, 2), {}),
    ("cct_7_7x2", "CCT", 7, _cct(7, 7, 2), dict(image_size=224, note="the paper's Flowers-102 model")),
]:
    _register(Variant(_name, _family, _layers, _kwargs, **_extra))


@dataclass(frozen=True)
class Baseline:
    """A model that is not one of the paper's, for comparison: built by `build_resnet`."""

    name: str
    family: str
    build_kwargs: dict
    description: str
    image_size: int = 32
    in_paper: bool = False
    paper_params_m = None

    def describe(self):
        return f"baseline, not a paper variant: {self.description}"


_register(
    Baseline(
        "resnet20",
        "ResNet",
        dict(blocks_per_stage=3, widths=(16, 32, 64)),
        "ResNet-20 for CIFAR (He et al., 2016, section 4.2), a CNN of about cct_2_3x2's size: "
        "3 stages of 3 basic blocks at 16/32/64 channels, option-A shortcuts",
    )
)


def list_models(details=False):
    """The variant names; with details=True a {name: description} dict."""
    if details:
        return {name: variant.describe() for name, variant in VARIANTS.items()}
    return list(VARIANTS)


def create_model(name, num_classes=10, image_size=None, weights=None, **overrides):
    """Build a named variant, as an `ImageClassifier` (`helpers.runtime.classifier`: the
    builder's plain model with input checks around it). `image_size` defaults to the variant's
    own (32, or 224 for cct_7_7x2); `overrides` change any argument of
    `build_compact_transformer`, e.g. `positional_embedding="sine"`, `stochastic_depth=0.0` or
    `dtype="mixed_bfloat16"` (the CNN baseline `resnet20` takes only `dtype`).

    `weights="cifar10"` loads the CIFAR-10 weights shipped with this package (see
    `pretrained_info`); a path to a `.weights.h5` file loads that file."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown model {name!r}. Valid names: {', '.join(VARIANTS)}.")
    variant = VARIANTS[name]
    image_size = variant.image_size if image_size is None else image_size
    if isinstance(variant, Baseline):
        unknown = sorted(set(overrides) - {"dtype"})
        if unknown:
            raise ValueError(f"{name} is a CNN baseline: of the transformers' arguments it takes only dtype, got {', '.join(unknown)}.")
        model = build_resnet(num_classes=num_classes, image_size=image_size, name=name, **variant.build_kwargs, **overrides)
    else:
        heads, dim, ratio = BACKBONES[variant.num_layers]
        kwargs = dict(num_heads=heads, embed_dim=dim, mlp_ratio=ratio, **variant.build_kwargs)
        kwargs.update(overrides)
        model = build_compact_transformer(num_classes=num_classes, image_size=image_size, name=name, **kwargs)
    model = ImageClassifier.wrap(model)
    if weights is not None:
        from helpers.runtime.weights import load_checked_weights  # weight files, checked: only when asked

        load_checked_weights(model, name, weights)
    return model


def pretrained_info(name):
    """How the shipped CIFAR-10 weights of `name` were trained and what they score
    (a dict), or None when none are shipped."""
    path = ASSETS / f"{name}_cifar10.json"
    return json.loads(path.read_text()) if path.exists() else None


def count_parameters(model, trainable_only=True):
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def seqpool_weights(model, images):
    """SeqPool's attention over the tokens for each image, shape (N, tokens)."""
    pool = model.get_layer("seq_pool")
    tokens = keras.Model(model.input, pool.input)(check_images(images))
    _, weights = pool(tokens, return_weights=True)
    return keras.ops.convert_to_numpy(weights).astype("float32")
