"""Tensors are checked as NumPy arrays are, with the same messages: an eager tensor (tf.Tensor,
jax.Array) whole, its lowest and highest pixel value reduced on its device; a symbolic one (a
KerasTensor, a tf.function graph tensor, a JAX tracer) by its shape only, since its values are
not known. The TensorFlow backend in this process, the JAX backend in a subprocess."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import keras

from helpers.data import load_cifar10_sample
from helpers.models import create_model

ROOT = Path(__file__).parents[2]

# What each bad input must be told, the same whether it comes as a NumPy array or a tensor.
EXPECTED = {
    "scaled": r"pixel values from 0 to 1: scaled to \[0, 1\] \(x / 255.\)\?",
    "nan": r"holds 3 NaN or infinite pixel values \(in 2 image\(s\)\)",
    "single": r"has shape \(32, 32, 3\): one image without the batch axis\. Pass a batch of one: images\[None\]",
    "bool": r"must be a numeric array of pixel values 0-255, got dtype bool",
}
CALLS = ("call", "predict", "evaluate", "fit", "fit_validation")


def _message(action):
    try:
        action()
    except ValueError as error:
        return str(error)
    return "passed"


def outcomes():
    """What a model on the current backend says to bad images, given as NumPy arrays and as tensors,
    through each way in ({input kind call: message}); the logits of raw images both ways; and what
    symbolic tensors get: the values of images in [0, 1] pass, a wrong shape does not."""
    (x, y), _ = load_cifar10_sample()
    x, labels = x[:4], np.eye(10, dtype="float32")[y[:4].ravel()]
    model = create_model("cct_2_3x2", weights="cifar10")
    nan = x.astype("float32")
    nan[0, 0, 0, 0] = nan[1, 5, 5, 1] = np.nan  # a few in the middle: XLA's min and max on a CPU pass over them
    nan[1, 7, 7, 2] = np.inf
    inputs = {"scaled": x / 255.0, "nan": nan, "single": x[0].astype("float32"), "bool": x > 127}
    calls = {
        "call": lambda images: model(images),
        "predict": lambda images: model.predict(images, verbose=0),
        "evaluate": lambda images: model.evaluate(images, labels[: len(images)], verbose=0),
        "fit": lambda images: model.fit(images, labels[: len(images)], verbose=0),
        "fit_validation": lambda images: model.fit(x, labels, validation_data=(images, labels), verbose=0),
    }
    found = {}
    for name, array in inputs.items():
        for kind, convert in (("numpy", np.asarray), ("tensor", keras.ops.convert_to_tensor)):
            for call in CALLS:
                found[f"{name} {kind} {call}"] = _message(lambda: calls[call](convert(array)))
    raw = keras.ops.convert_to_tensor(x)
    found["logits"] = {
        "call numpy": np.asarray(model(x)).tolist(),
        "call tensor": keras.ops.convert_to_numpy(model(raw)).tolist(),
        "predict numpy": model.predict(x, verbose=0).tolist(),
        "predict tensor": model.predict(raw, verbose=0).tolist(),
    }
    found["symbolic"] = _symbolic_outcomes(model, x)
    return found


def _symbolic_outcomes(model, x):
    if keras.backend.backend() == "jax":
        import jax

        compiled = jax.jit(model)
    else:
        import tensorflow as tf

        compiled = tf.function(model)
    return {
        "compiled scaled": list(keras.ops.shape(compiled(keras.ops.convert_to_tensor(x / 255.0)))),
        "compiled single": _message(lambda: compiled(keras.ops.convert_to_tensor(x[0] / 1.0))),
        "keras tensor gray": _message(lambda: model(keras.Input((32, 32)))),
        "keras tensor rgb": list(model(keras.Input((32, 32, 3))).shape),
    }


def _check(found):
    for name, expected in EXPECTED.items():
        for call in CALLS:
            numpy_says, tensor_says = found[f"{name} numpy {call}"], found[f"{name} tensor {call}"]
            assert tensor_says == numpy_says, (name, call, tensor_says, numpy_says)
            assert re.search(expected, tensor_says), (name, call, tensor_says)
    logits = {key: np.asarray(value) for key, value in found["logits"].items()}
    assert logits["call tensor"].shape == (4, 10)
    np.testing.assert_allclose(logits["call tensor"], logits["call numpy"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(logits["predict tensor"], logits["predict numpy"], rtol=0, atol=1e-6)
    symbolic = found["symbolic"]
    assert symbolic["compiled scaled"] == [4, 10]  # values unknown while compiling: nothing read, nothing refused
    assert "one image without the batch axis" in symbolic["compiled single"]
    assert "(None, 32, 32): grayscale images" in symbolic["keras tensor gray"]
    assert symbolic["keras tensor rgb"] == [None, 10]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="runs the TensorFlow backend in process")
def test_tensorflow_tensors_are_checked_as_numpy_arrays():
    _check(outcomes())


def test_jax_arrays_are_checked_as_numpy_arrays():
    pytest.importorskip("jax")
    # Unoptimised compiles: faster here, and both sides of each comparison run under them.
    env = {
        **os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_backend_optimization_level=0",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    script = "import json, test_tensor_inputs as t; print('RESULT' + json.dumps(t.outcomes()))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    _check(json.loads(result.stdout.split("RESULT", 1)[1]))
