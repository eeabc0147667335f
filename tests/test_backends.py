"""The layers and models use keras.ops only: run their tests (and the initial weights) again on the JAX backend."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_layers_and_models_pass_on_jax():
    # Eager JAX compiles every op on first use; unoptimised compiles halve this test's time
    # and change no result the tests look at.
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "XLA_FLAGS": "--xla_backend_optimization_level=0"}
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "tests/test_layers.py", "tests/test_models.py", "tests/test_initialization.py"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout.splitlines()[-1]
