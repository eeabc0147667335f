import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers.runtime import device
from helpers.models import create_model
from helpers.runtime.device import choose_precision, cpu_computes_bfloat16, get_strategy, set_seed


def test_cpu_bfloat16_units_are_read_from_the_cpu_flags(tmp_path):
    amx, zen4, plain = tmp_path / "amx", tmp_path / "zen4", tmp_path / "plain"
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    zen4.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    plain.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_computes_bfloat16(amx)
    assert cpu_computes_bfloat16(zen4)
    assert not cpu_computes_bfloat16(plain)
    assert not cpu_computes_bfloat16(tmp_path / "missing")


def test_choose_precision(monkeypatch):
    monkeypatch.delenv("CCT_PRECISION", raising=False)
    assert choose_precision(device="TPU") == "mixed_bfloat16"
    monkeypatch.setattr(device, "cpu_computes_bfloat16", lambda: False)
    assert choose_precision(device="CPU") == "float32"
    monkeypatch.setattr(device, "cpu_computes_bfloat16", lambda: True)
    assert choose_precision(device="CPU") == "mixed_bfloat16"
    assert choose_precision("float32", device="TPU") == "float32"
    monkeypatch.setenv("CCT_PRECISION", "float32")
    assert choose_precision(device="TPU") == "float32"
    assert choose_precision("mixed_bfloat16") == "mixed_bfloat16"  # an explicit argument wins
    monkeypatch.setenv("CCT_PRECISION", "fp8")
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_precision()


def test_set_seed_makes_models_reproducible():
    set_seed(3)
    first = create_model("cct_2_3x2").get_weights()
    set_seed(3)
    second = create_model("cct_2_3x2").get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_get_strategy_says_what_it_chose(capsys):
    strategy = get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert "strategy:" in capsys.readouterr().out


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from helpers.data import load_cifar10_sample
    from helpers.pipeline.host import make_datasets
    from helpers.models import create_model
    from helpers.recipes import compile_model, get_recipe
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    (x, y), (xt, yt) = load_cifar10_sample()
    train, _ = make_datasets(x[:64], y[:64], xt[:32], yt[:32], batch_size=32, augment=None)
    with strategy.scope():
        model = compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=1), 2)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(train, epochs=1, verbose=0)
    changed = any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    print("replicas", strategy.num_replicas_in_sync, "loss", history.history["loss"][0], "changed", changed)
    # 5 images on 2 replicas: padded to 6 (ImageClassifier), scored as the 5.
    logits = model.predict(xt[:5], verbose=0)
    _, accuracy = model.evaluate(xt[:5], np.eye(10)[yt[:5].ravel()], verbose=0)
    print("predicted", logits.shape[0], "exact", abs(accuracy - np.mean(logits.argmax(1) == yt[:5].ravel())) < 1e-6)
    """
)


def test_mirrored_strategy_over_two_cpu_devices_trains_a_step():
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, timeout=300, env=_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    words = result.stdout.split()
    assert words[words.index("replicas") + 1] == "2"
    assert np.isfinite(float(words[words.index("loss") + 1]))
    assert words[words.index("changed") + 1] == "True"
    assert (words[words.index("predicted") + 1], words[words.index("exact") + 1]) == ("5", "True")


def _env():
    import os
    from pathlib import Path

    root = str(Path(__file__).parents[2])
    return {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
