"""Which Keras backend: chosen before Keras is imported, so this module imports no framework (but
`start_framework_quietly`, which the command lines call to import it)."""

import contextlib
import glob
import importlib.util
import os
import sys
import tempfile


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


@contextlib.contextmanager
def native_stderr_held():
    """Hold what C++ code writes to the process's stderr (file descriptor 2) inside the block; show it
    only if the block raises, so a failure keeps its explanation."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_framework_quietly():
    """Import Keras and its backend, and let TensorFlow look for GPUs, without the C++ start-up lines
    a terminal otherwise shows (cudart and cuInit on a machine without a GPU, the CPU feature guard,
    oneDNN): a notebook never shows them, so neither do the command lines. The run's own `device:`
    line says what was found."""
    with native_stderr_held():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
