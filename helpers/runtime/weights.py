"""Loading a weights file into a model, checked first: a file saved from another model (another
variant, depth, position embedding, number of classes or image size) or a damaged one is
refused with an error that names the file and what does not fit, instead of Keras' raw one.
`helpers.models.create_model(name, weights=...)` loads through here.
"""

import contextlib
import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from helpers import ASSETS
from helpers.layers import PositionEmbedding, TransformerEncoder, sinusoidal_table
from helpers.runtime.assets import listed, manifest, verified

SHIPPED_SUFFIX = "_cifar10.weights.h5"


def load_checked_weights(model, name, weights):
    """Load `weights` into `model`, the variant `name`: "cifar10" (the weights shipped for it) or
    the path of a .weights.h5 (or .keras) file, after checking that every weight is there with
    its shape; a ValueError says what does not fit."""
    path = weights_path(name, weights)
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


def weights_path(name, weights):
    """The file `weights` names: "cifar10" (the shipped weights of `name`, checked against the
    digest they shipped with: `helpers.runtime.assets`) or a path."""
    if weights == "cifar10":
        path = ASSETS / f"{name}{SHIPPED_SUFFIX}"
        if not path.exists() and not listed(path):
            shipped = sorted(key.removesuffix(SHIPPED_SUFFIX) for key in manifest() if key.endswith(SHIPPED_SUFFIX))
            raise ValueError(
                f"No CIFAR-10 weights are shipped for {name!r}; they are for: {', '.join(shipped) or 'none'}. "
                "Train it with `python -m helpers.train` and pass weights=<path to a .weights.h5 file>."
            )
        return verified(path)  # a shipped file that is missing or damaged is refused, naming it
    path = Path(weights).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"weights={str(weights)!r}: no such file (give 'cifar10' or a .weights.h5 path).")
    return path


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
