"""Which Keras backend: chosen before Keras is imported, so this module imports no framework."""

import glob
import importlib.util
import os
import sys


def choose_backend():
    """Without KERAS_BACKEND, Keras takes TensorFlow; where TensorFlow is not installed but JAX is
    (a Colab TPU runtime, or `pip install .` on a machine with nothing else), take JAX instead.
    Run when `helpers` is imported, so before Keras."""
    if "KERAS_BACKEND" in os.environ or "keras" in sys.modules:
        return
    if tpu_present() or (importlib.util.find_spec("tensorflow") is None and importlib.util.find_spec("jax") is not None):
        os.environ["KERAS_BACKEND"] = "jax"


def tpu_present():
    """A Cloud TPU is attached (Colab TPU runtimes, TPU VMs), judged without importing a framework."""
    markers = ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE")
    return any(os.environ.get(name) for name in markers) or bool(glob.glob("/dev/accel*") + glob.glob("/dev/vfio/[0-9]*"))
