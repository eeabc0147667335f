"""Several devices, simulated: JAX data parallelism over 8 CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=8), in subprocesses since the device count is
fixed when JAX starts. JAX splits a batch only when it divides evenly over the devices:
predict and evaluate pad what does not (`ImageClassifier`), train() pads its test split
(`make_datasets(replicas=...)`), and the results must equal those of one device. Also: the
callbacks that train() gives fit have no batch hooks, so that no step waits for the host."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import keras
from keras.src.utils.python_utils import is_default

from helpers import train as train_module
from helpers.pipeline.host import BatchMixing
from helpers.data import load_cifar10_sample
from helpers.runtime.device import pad_to_replicas
from helpers.train import train

ROOT = Path(__file__).parents[2]
DEVICES = 8
BATCH_HOOKS = (
    "on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
    "on_test_batch_end",
)


def run_on_devices(script, devices=DEVICES, timeout=600):
    """Run `script` with JAX over `devices` simulated CPU devices; the JSON it prints after "RESULT"."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=_jax_env(devices), capture_output=True,
        text=True, timeout=timeout,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return json.loads(result.stdout.split("RESULT", 1)[1])


def _jax_env(devices):
    # Unoptimised compiles make these tests faster and change no comparison (both sides run under them).
    flags = f"--xla_force_host_platform_device_count={devices} --xla_backend_optimization_level=0"
    pythonpath = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    return {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags, "PYTHONPATH": pythonpath}


PREDICT_AND_EVALUATE = """
    import json
    import numpy as np
    from helpers.data import load_cifar10_sample
    from helpers.runtime.device import get_strategy, num_replicas
    from helpers.models import create_model, seqpool_weights
    from helpers.recipes import compile_model, get_recipe

    (_, _), (x, y) = load_cifar10_sample()
    x, labels = x[:21], np.eye(10, dtype="float32")[y[:21].ravel()]
    weights = np.linspace(0.5, 2.0, 21).astype("float32")

    def model():
        return compile_model(create_model("cct_2_3x2", weights="cifar10"), get_recipe("short", epochs=1), 1)

    def outputs(model):
        return {
            "replicas": num_replicas(model),
            "predict_6": model.predict(x[:6], verbose=0).tolist(),
            "predict_13": model.predict(x[:13], verbose=0).tolist(),
            "predict_13_batch_5": model.predict(x[:13], batch_size=5, verbose=0).tolist(),
            "call_6": np.asarray(model(x[:6])).tolist(),
            "seqpool_6": seqpool_weights(model, x[:6]).tolist(),
            "evaluate_21_batch_4": model.evaluate(x, labels, batch_size=4, verbose=0),
            "evaluate_13_weighted": model.evaluate(x[:13], labels[:13], sample_weight=weights[:13], verbose=0),
            "evaluate_dict": model.evaluate(x[:6], labels[:6], verbose=0, return_dict=True),
        }

    one_device = outputs(model())  # before any distribution is set: JAX's first device alone
    get_strategy(verbose=False)  # keras.distribution.DataParallel over every device
    print("RESULT", json.dumps({"one": one_device, "many": outputs(model())}))
"""


def test_predict_and_evaluate_on_8_devices_equal_one_device():
    result = run_on_devices(PREDICT_AND_EVALUATE)
    one, many = result["one"], result["many"]
    assert (one.pop("replicas"), many.pop("replicas")) == (1, DEVICES)
    assert np.shape(many["predict_6"]) == (6, 10) and np.shape(many["predict_13"]) == (13, 10)
    assert many.keys() == one.keys()
    for key in one:
        if key == "evaluate_dict":
            assert many[key].keys() == one[key].keys() == {"loss", "accuracy"}
            np.testing.assert_allclose([many[key]["loss"], many[key]["accuracy"]], [one[key]["loss"], one[key]["accuracy"]], rtol=1e-6)
        else:
            np.testing.assert_allclose(many[key], one[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # Exact, not merely close: 16 of 21 right is 0.7619..., which padding to 24 rows would make 16/24.
    assert many["evaluate_21_batch_4"][1] == pytest.approx(one["evaluate_21_batch_4"][1], abs=1e-7)


TRAIN = """
    import json
    import keras
    import numpy as np
    from helpers.data import load_cifar10_sample
    from helpers.runtime.device import get_strategy
    from helpers.train import train

    lists = []
    original = keras.callbacks.CallbackList.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        lists.append(self)

    keras.callbacks.CallbackList.__init__ = record
    strategy = get_strategy(verbose=False)
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    # 100 test images: no multiple of 8, so the test split is padded.
    data = (x_train[:256], y_train[:256]), (x_test[:100], y_test[:100])
    run = train("cct_2_3x2", data, epochs=1, batch_size=64, strategy=strategy, out={out!r}, verbose=2)
    fit_callbacks = lists[0]
    logits = run.model.predict(x_test[:100], verbose=0)
    print("RESULT", json.dumps({{
        "replicas": strategy.num_replicas_in_sync, "results": run.results, "history": run.history,
        "logits": logits.tolist(), "async_train": fit_callbacks._async_train, "async_test": fit_callbacks._async_test,
        "callbacks": [type(callback).__name__ for callback in fit_callbacks.callbacks],
    }}))
"""


def test_train_on_8_devices_with_the_global_batch(tmp_path):
    result = run_on_devices(TRAIN.format(out=str(tmp_path / "run")))
    results = result["results"]
    assert result["replicas"] == results["replicas"] == DEVICES
    assert (results["batch_size"], results["steps_per_epoch"], results["test_images"]) == (64, 4, 100)
    assert np.isfinite(result["history"]["loss"][0]) and np.isfinite(result["history"]["val_loss"][0])
    # The padded test split scores exactly the 100 images: the same numbers from the predictions.
    (_, _), (_, y_test) = load_cifar10_sample()
    labels, logits = y_test[:100].ravel(), np.asarray(result["logits"], "float64")
    assert results["test_accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == labels), abs=1e-6)
    assert results["test_loss"] == pytest.approx(_smoothed_cross_entropy(logits, labels, 0.1), rel=1e-5)
    assert result["history"]["val_accuracy"][0] == pytest.approx(results["test_accuracy"], abs=1e-6)
    # No callback reads the loss after every step: Keras hands the step logs to a thread.
    assert result["async_train"] and result["async_test"], result["callbacks"]
    assert {"StopOnNaN", "BestCheckpoint", "RunFolderLog"} <= set(result["callbacks"])


def _smoothed_cross_entropy(logits, labels, smoothing):
    targets = np.eye(logits.shape[1])[labels] * (1 - smoothing) + smoothing / logits.shape[1]
    log_probabilities = logits - logits.max(axis=1, keepdims=True)
    log_probabilities -= np.log(np.exp(log_probabilities).sum(axis=1, keepdims=True))
    return float(np.mean(-(targets * log_probabilities).sum(axis=1)))


def test_train_asks_for_a_batch_that_splits_over_the_replicas():
    class EightReplicas:
        num_replicas_in_sync = 8

    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    with pytest.raises(ValueError, match=r"batch_size 100 does not split over the 8 replicas: pass a multiple of 8 .*104"):
        train("cct_2_3x2", ((x_train, y_train), (x_test, y_test)), epochs=1, batch_size=100, strategy=EightReplicas())


def test_padding_keeps_the_weighted_mean():
    images, labels = np.ones((5, 2, 2, 3), "uint8"), np.arange(5)
    same = pad_to_replicas(images, labels, 5)
    assert same[0] is images and same[1] is labels and same[2] is None
    padded_images, padded_labels, weights = pad_to_replicas(images, labels, 4, sample_weight=np.arange(1.0, 6.0))
    assert padded_images.shape == (8, 2, 2, 3) and not padded_images[5:].any()
    assert padded_labels.tolist() == [0, 1, 2, 3, 4, 0, 0, 0]
    np.testing.assert_allclose(weights, [1.6, 3.2, 4.8, 6.4, 8.0, 0, 0, 0], rtol=1e-6)
    values = np.array([0.5, 1.0, 2.0, 4.0, 8.0, 123.0, 456.0, 789.0])
    # Keras' loss: the weighted sum over all 8 rows divided by 8, as the unpadded sum over 5.
    assert (weights * values).sum() / 8 == pytest.approx((np.arange(1.0, 6.0) * values[:5]).sum() / 5)


def test_no_callback_of_train_has_batch_hooks(monkeypatch, tmp_path):
    """Keras calls a callback's batch hooks after every step, which (on one thread, or with
    logs converted to floats) waits for the device; with verbose=2 the progress bar reads no
    batch logs. So train()'s callbacks must all be epoch-level."""
    lists = []
    original = keras.callbacks.CallbackList.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        lists.append(self)

    monkeypatch.setattr(keras.callbacks.CallbackList, "__init__", record)
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    data = (x_train[:128], y_train[:128]), (x_test[:64], y_test[:64])
    train("cct_2_3x2", data, recipe="paper", epochs=1, batch_size=64, out=tmp_path / "run", verbose=2)
    fit_callbacks = lists[0].callbacks
    names = {type(callback).__name__ for callback in fit_callbacks}
    assert {"StopOnNaN", "BestCheckpoint", "RunFolderLog", "ProgbarLogger", "History"} <= names
    # The callbacks train() adds in other cases: a time budget, and mixing switched off mid-run.
    others = [train_module.StopAtDeadline(0.0), BatchMixing(3).callback]
    for callback in [*fit_callbacks, *others]:
        if isinstance(callback, keras.callbacks.ProgbarLogger):
            assert callback.verbose == 2  # its batch hooks only count steps; verbose=1 would print each
            continue
        overridden = [hook for hook in BATCH_HOOKS if not is_default(getattr(callback, hook))]
        assert not overridden, f"{type(callback).__name__} overrides {overridden}"


def test_notebooks_run_on_8_devices(tmp_path):
    """Notebooks 02-06 in smoke mode (the root conftest.py sets CCT_SMOKE=1) on 8 simulated JAX devices, as
    a Colab TPU runs them (05 included: Keras' RandAugment there returns pixels a hair over 255)."""
    names = ("02_vit_lite", "03_seqpool_cvt", "04_conv_tokenization_cct", "05_training_recipe", "06_results")
    notebooks = [f"notebooks/{name}.ipynb" for name in names]
    env = {**_jax_env(DEVICES), "CCT_SMOKE": "1", "CCT_RUNS_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-n", "0", "-p", "no:cacheprovider", *notebooks]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-8000:]
    assert " passed" in result.stdout.splitlines()[-1]
    for family in ("vit_lite", "cvt", "cct"):  # the runs that notebooks 02-04 saved
        results = json.loads((tmp_path / "smoke" / f"{family}.json").read_text())["results"]
        assert (results["backend"], results["replicas"], results["profile"]) == ("jax", DEVICES, "smoke"), family
