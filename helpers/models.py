"""The paper's named variants as tiny factory functions over one general builder.

Names follow Hassani et al. (2021): `cct_7_3x1` is 7 encoder layers, a 3x3 convolutional
tokenizer with 1 conv layer; `vit_lite_7_4` and `cvt_7_4` are 7 layers with 4x4 patches.

    model = create_model("cct_7_3x1")        # raw images in (0-255), logits out
    model = create_model("cct_2_3x2", weights="cifar10")   # trained weights shipped here
    list_models()                            # every name, with what it is
"""

import contextlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import keras

from helpers.layers import (
    ClassToken,
    ClassTokenReadout,
    ConvTokenizer,
    ImageCheck,
    PatchTokenizer,
    PositionEmbedding,
    SeqPool,
    TransformerEncoder,
)
from helpers.data import check_images, check_num_classes, is_whole_number, pad_to_replicas
from helpers.device import num_replicas
from helpers.layers import initializers
from helpers.layers.embeddings import sinusoidal_table
from helpers.layers.encoder import LAYER_NORM_EPSILON
from helpers.layers.resnet import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM, BasicBlock
from helpers.paper import published_parameters

# The statistics the official code normalises CIFAR-10 with (official binary release).
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
    """Tokenizer -> (class token) -> position embedding -> encoder blocks -> LN -> pool -> Dense.

    tokenizer: "patch" (ViT-Lite, CVT) or "conv" (CCT).
    pooling: "class_token" (ViT-Lite) or "seqpool" (CVT, CCT).
    dtype: a Keras dtype policy for every layer, e.g. "mixed_bfloat16" (compute in bfloat16,
    keep the weights in float32); None uses Keras' global policy (float32 by default). The
    logits are float32 either way.
    The model takes raw images of shape (N, image_size, image_size, 3) with pixel values
    0-255 and returns logits.
    """
    if tokenizer not in ("patch", "conv"):
        raise ValueError(f"tokenizer must be 'patch' or 'conv', got {tokenizer!r}.")
    if pooling not in ("class_token", "seqpool"):
        raise ValueError(f"pooling must be 'class_token' or 'seqpool', got {pooling!r}.")
    num_classes = check_num_classes(num_classes)
    image_size = _check_image_size(image_size)

    layer = dict(dtype=dtype)
    images, x = _image_input(image_size, layer)
    if tokenizer == "patch":
        x = PatchTokenizer(patch_size, embed_dim, name="tokenizer", **layer)(x)
    else:
        x = ConvTokenizer(
            embed_dim, kernel_size=kernel_size, num_conv_layers=num_conv_layers, name="tokenizer", **layer
        )(x)
    if pooling == "class_token":
        x = ClassToken(name="class_token", **layer)(x)
    x = PositionEmbedding(positional_embedding, name="position_embedding", **layer)(x)
    x = keras.layers.Dropout(dropout, name="embedding_dropout", **layer)(x)
    # Stochastic depth rises linearly from 0 in the first block to `stochastic_depth` in the last.
    drop_path_rates = np.linspace(0.0, stochastic_depth, num_layers)
    for i, rate in enumerate(drop_path_rates):
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
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm", **layer)(x)
    if pooling == "class_token":
        x = ClassTokenReadout(name="class_token_readout", **layer)(x)
    else:
        x = SeqPool(name="seq_pool", **layer)(x)
    # float32 logits: the loss and the predictions need no bfloat16 rounding, and this layer is tiny.
    logits = keras.layers.Dense(num_classes, kernel_initializer=initializers.linear(), name="classifier", dtype="float32")(x)
    return CompactTransformer(images, logits, name=name)


def _check_image_size(image_size):
    if not is_whole_number(image_size, 1):
        raise ValueError(f"image_size must be a whole number of pixels >= 1, got {image_size!r}.")
    return int(image_size)


def _image_input(image_size, layer):
    """The input every model shares: raw RGB images (0-255), checked, then normalised with
    CIFAR-10's statistics. Returns (the Input, the normalised images)."""
    images = keras.Input((image_size, image_size, 3), name="images")
    x = ImageCheck(image_size, image_size, name="check_images", **layer)(images)
    x = keras.layers.Normalization(
        mean=[255.0 * m for m in CIFAR10_MEAN],
        variance=[(255.0 * s) ** 2 for s in CIFAR10_STD],
        name="normalize",
        **layer,
    )(x)
    return images, x


def build_resnet(*, blocks_per_stage=3, widths=(16, 32, 64), num_classes=10, image_size=32, dtype=None, name="resnet"):
    """He et al.'s (2016, section 4.2) CIFAR ResNet of 6n+2 layers, n = `blocks_per_stage`
    (3: ResNet-20): a 3x3 convolution of widths[0] filters with BatchNorm and ReLU, then one
    stage of n basic blocks per width, the first block of every stage after the first halving
    the feature map; global average pooling; a dense classifier. Shortcuts are the paper's
    option A (parameter-free; `helpers.layers.resnet.BasicBlock`).

    It takes and returns what the compact transformers do (raw images 0-255 in, float32 logits
    out) through the same model class, `CompactTransformer`, which brings their image checks,
    on-device augmentation and predict/evaluate padding; `dtype` likewise."""
    num_classes = check_num_classes(num_classes)
    image_size = _check_image_size(image_size)
    layer = dict(dtype=dtype)
    images, x = _image_input(image_size, layer)
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
    return CompactTransformer(images, logits, name=name)


@keras.saving.register_keras_serializable(package="cct")
class CompactTransformer(keras.Model):
    """A functional Keras model that checks the NumPy images it is given (`model(x)`,
    `predict`, `evaluate`, `fit`) before they reach the compiled graph: raw pixels 0-255, a batch
    axis, RGB, at least one image, no NaN (`helpers.data.check_images`). The check runs in
    NumPy, outside the training step, so it costs the step nothing; tensors and tf.data
    pipelines pass unchecked (`make_datasets` has checked those).

    On several devices (`helpers.device.num_replicas`: JAX data parallelism, a tf.distribute
    strategy), `predict` and `evaluate` take NumPy inputs of any size and any batch size,
    although JAX splits only batches that divide evenly over the devices: the batch size is
    rounded up to a multiple of the replicas, and the images are padded to one
    (`helpers.data.pad_to_replicas`). `predict` drops the padded rows' outputs; `evaluate`
    weighs them 0 and the others so that the loss and the metrics are those of the images
    given. NumPy `validation_data` of `fit` is padded the same way.

    Fed by `helpers.data.ImageBatches` with augmentation ({"images": uint8, "augment": parameters}),
    it augments the batch on the device inside the training step (`helpers.device_augmentation`)
    and otherwise uses the images as they are; this adds no weights."""

    def __call__(self, inputs, *args, **kwargs):
        inputs = _augmented(inputs, kwargs.get("training", args[0] if args else None))
        return super().__call__(_checked(inputs), *args, **kwargs)

    def call(self, inputs, training=None, mask=None, **kwargs):
        # JAX's training step reaches `call` through `stateless_call`, past `__call__`.
        return super().call(_augmented(inputs, training), training=training, mask=mask, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        x = _checked(x)
        replicas = num_replicas(self)
        if replicas == 1 or steps is not None or not isinstance(x, np.ndarray):
            return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        count = len(x)
        padded = np.concatenate([x, np.zeros((-count % replicas, *x.shape[1:]), x.dtype)])
        outputs = super().predict(
            padded, batch_size=_whole_replicas(batch_size, replicas), verbose=verbose, callbacks=callbacks
        )
        return keras.tree.map_structure(lambda output: output[:count], outputs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None, **kwargs):
        x = _checked(x)
        replicas = num_replicas(self)
        # fit passes _use_cached_eval_dataset=True for its validation data, which fit has padded.
        if replicas > 1 and steps is None and "_use_cached_eval_dataset" not in kwargs and _arrays(x, y):
            if len(x) % replicas:
                _check_padding_is_exact(self, f"{len(x)} images do not split evenly over {replicas} replicas")
                x, y, sample_weight = pad_to_replicas(x, y, replicas, sample_weight)
            batch_size = _whole_replicas(batch_size, replicas)
        return super().evaluate(
            x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight, steps=steps, **kwargs
        )

    def fit(self, x=None, *args, **kwargs):
        callback = getattr(x, "epoch_callback", None)  # ImageBatches: follow fit's epochs
        if callback is not None:
            callbacks = list(kwargs.get("callbacks") or [])
            kwargs["callbacks"] = callbacks + [callback] * (callback not in callbacks)
        validation = kwargs.get("validation_data")
        replicas = num_replicas(self)
        if replicas > 1 and isinstance(validation, (tuple, list)) and 2 <= len(validation) <= 3:
            images, labels, *weights = validation
            images = _checked(images)
            if _arrays(images, labels) and len(images) % replicas:
                _check_padding_is_exact(self, f"{len(images)} validation images do not split evenly over {replicas} replicas")
                kwargs["validation_data"] = pad_to_replicas(images, labels, replicas, *weights)
        return super().fit(_checked(x), *args, **kwargs)


def _augmented(inputs, training):
    """The images of a batch from `helpers.data.ImageBatches` ({"images", "augment"}):
    augmented on the device when training (`helpers.device_augmentation`), else as they are.
    Anything else passes unchanged."""
    if not (isinstance(inputs, dict) and set(inputs) == {"images", "augment"}):
        return inputs
    if training:
        from helpers.device_augmentation import augment_batch

        return augment_batch(inputs["images"], inputs["augment"])
    return keras.ops.cast(inputs["images"], "float32")


def _checked(images):
    if isinstance(images, (np.ndarray, list)):
        return check_images(images)
    return images


def _arrays(images, labels):
    """Images and labels as NumPy arrays of one length: what predict/evaluate/fit can pad."""
    return isinstance(images, np.ndarray) and isinstance(labels, np.ndarray) and len(images) == len(labels)


def _whole_replicas(batch_size, replicas):
    """`batch_size` (Keras' default 32 when None) rounded up to a multiple of `replicas`."""
    return -(-(32 if batch_size is None else int(batch_size)) // replicas) * replicas


def _check_padding_is_exact(model, why):
    """Zero-weight padding rows leave the loss and the metrics as they are only for Keras'
    default loss reduction and for weighted metrics (`compile_model` compiles so)."""
    reduction = getattr(model.loss, "reduction", "sum_over_batch_size")
    unweighted = getattr(getattr(model, "_compile_metrics", None), "_user_metrics", None)
    if reduction != "sum_over_batch_size" or unweighted:
        raise ValueError(
            f"{why}, and padding them with rows of weight 0 would change "
            + (f"a loss of reduction {reduction!r}" if reduction != "sum_over_batch_size" else "metrics that ignore sample weights")
            + f": pass a multiple of {num_replicas(model)} images, or compile with the default loss reduction and "
            "the metrics as weighted_metrics (helpers.recipes.compile_model does)."
        )


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
    """Build a named variant. `image_size` defaults to the variant's own (32, or 224 for
    cct_7_7x2); `overrides` change any argument of `build_compact_transformer`, e.g.
    `positional_embedding="sine"`, `stochastic_depth=0.0` or `dtype="mixed_bfloat16"`
    (the CNN baseline `resnet20` takes only `dtype`).

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
    if weights is not None:
        _load_weights(model, name, weights)
    return model


WEIGHTS_DIR = Path(__file__).parent / "assets"


def pretrained_info(name):
    """How the shipped CIFAR-10 weights of `name` were trained and what they score
    (a dict), or None when none are shipped."""
    path = WEIGHTS_DIR / f"{name}_cifar10.json"
    return json.loads(path.read_text()) if path.exists() else None


def _load_weights(model, name, weights):
    if weights == "cifar10":
        path = WEIGHTS_DIR / f"{name}_cifar10.weights.h5"
        if not path.exists():
            shipped = sorted(p.name.removesuffix("_cifar10.weights.h5") for p in WEIGHTS_DIR.glob("*_cifar10.weights.h5"))
            raise ValueError(
                f"No CIFAR-10 weights are shipped for {name!r}; they are for: {', '.join(shipped) or 'none'}. "
                "Train it with `python -m helpers.train` and pass weights=<path to a .weights.h5 file>."
            )
    else:
        path = Path(weights).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"weights={str(weights)!r}: no such file (give 'cifar10' or a .weights.h5 path).")
    found = _weight_shapes(path)
    expected = _expected_weight_shapes(model)
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    reshaped = sorted(key for key in set(expected) & set(found) if expected[key] != found[key])
    if missing or extra or reshaped:
        problems = [
            f"{len(items)} {what}, e.g. {', '.join(describe(key) for key in items[:3])}"
            for items, what, describe in (
                (extra, "weight(s) in the file that this model lacks", str),
                (missing, "weight(s) of this model missing from the file", str),
                (reshaped, "of another shape", lambda key: f"{key} {found[key]} in the file, {expected[key]} here"),
            )
            if items
        ]
        raise ValueError(
            f"The weights in {path} do not fit this {name} ({_describe_model(model)}): {'; '.join(problems)}. "
            "They were saved from another model (another variant, depth, position embedding, number of classes or "
            "image size): build that model to load them."
        )
    mismatch = _position_table_mismatch(model, path)
    if mismatch:
        raise ValueError(f"The weights in {path} do not fit this {name}: {mismatch}.")
    try:
        model.load_weights(path)
    except ValueError as error:
        raise ValueError(f"The weights in {path} do not fit this {name}: {error}") from error


def _describe_model(model):
    return f"{sum(1 for layer in model.layers if isinstance(layer, TransformerEncoder))} encoder layers, {model.output_shape[-1]} classes"


@contextlib.contextmanager
def _weights_store(path):
    """The HDF5 weights of a .weights.h5 or .keras file, open for reading; a ValueError
    naming the file when it cannot be read."""
    import h5py

    with contextlib.ExitStack() as stack:
        try:
            if zipfile.is_zipfile(path):
                archive = stack.enter_context(zipfile.ZipFile(path))
                store = stack.enter_context(h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r"))
            else:
                store = stack.enter_context(h5py.File(path, "r"))
        except Exception as error:
            raise ValueError(
                f"{path} is not a readable Keras weights file ({type(error).__name__}: {error}). It may be truncated "
                "or corrupt (an interrupted copy or download): copy it again, or pass a .weights.h5 or .keras file "
                "saved by Keras."
            ) from error
        yield store


def _weight_shapes(path):
    """{path of each layer weight: its shape} in a .weights.h5 or .keras file."""
    import h5py

    shapes = {}

    def collect(key, item):  # visititems stops at the first callback that returns something
        if isinstance(item, h5py.Dataset) and key.startswith("layers/"):
            shapes[key] = tuple(item.shape)

    with _weights_store(path) as store:
        store.visititems(collect)
    return shapes


def _position_table_mismatch(model, path):
    """What is wrong when a learned position embedding would load into a fixed sine table
    or the other way round (the shapes agree, so only the values tell), else None."""
    kinds = {layer.kind for layer in model.layers if isinstance(layer, PositionEmbedding)} - {"none"}
    if len(kinds) != 1:
        return None
    (kind,) = kinds
    with _weights_store(path) as store:
        keys = [key for key in store.get("layers", {}) if key.startswith("position_embedding")]
        if len(keys) != 1 or "vars/0" not in store["layers"][keys[0]]:
            return None
        table = np.asarray(store["layers"][keys[0]]["vars/0"])
    file_is_sine = np.allclose(table, sinusoidal_table(*table.shape), atol=1e-6)
    if kind == "sine" and not file_is_sine:
        return "the file holds a learned position embedding, this model a fixed sine table: build it with positional_embedding='learnable'"
    if kind == "learnable" and file_is_sine:
        return "the file holds a fixed sine position table, this model a learned one: build it with positional_embedding='sine'"
    return None


def _expected_weight_shapes(model):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "expected.weights.h5"
        model.save_weights(path)
        return _weight_shapes(path)


def count_parameters(model, trainable_only=True):
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(np.prod(w.shape) for w in weights))


def seqpool_weights(model, images):
    """SeqPool's attention over the tokens for each image, shape (N, tokens)."""
    pool = model.get_layer("seq_pool")
    tokens = keras.Model(model.input, pool.input)(check_images(images))
    _, weights = pool(tokens, return_weights=True)
    return keras.ops.convert_to_numpy(weights).astype("float32")
