"""Where the code runs: smoke mode, seeds, and the distribution strategy for TPU / GPUs / CPU."""

import contextlib
import os

SMOKE_VARIABLE = "CCT_SMOKE"


def smoke_mode():
    """True when CCT_SMOKE is set to 1/true/yes: notebooks then shrink to a quick check."""
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def set_seed(seed=0):
    """Seed Python, NumPy and the Keras backend (and TensorFlow when it is the backend)."""
    import keras

    keras.utils.set_random_seed(seed)


def accelerator():
    """'TPU', 'GPU' or 'CPU': the kind of device Keras will compute on."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        platform = jax.devices()[0].platform
        return {"tpu": "TPU", "gpu": "GPU"}.get(platform, "CPU")
    if backend == "tensorflow":
        import tensorflow as tf

        if _tpu_cluster_resolver() is not None:
            return "TPU"
        return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    if backend == "torch":
        import torch

        return "GPU" if torch.cuda.is_available() else "CPU"
    return "CPU"


def _tpu_cluster_resolver():
    import tensorflow as tf

    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except (ValueError, RuntimeError):
        return None


class SingleDeviceStrategy:
    """What `get_strategy()` returns when there is nothing to distribute over, or on a
    backend where Keras distributes by itself (JAX): `scope()` and `num_replicas_in_sync`
    as on a tf.distribute strategy, so notebooks need not care."""

    def __init__(self, num_replicas_in_sync=1, description="one device"):
        self.num_replicas_in_sync = num_replicas_in_sync
        self.description = description

    def scope(self):
        return contextlib.nullcontext()


def get_strategy(verbose=True):
    """Pick how to spread training over the devices present, and say what was chosen.

    TensorFlow: a TPUStrategy on a TPU, a MirroredStrategy over several GPUs, else the
    default strategy. JAX: `keras.distribution.DataParallel` over several devices (TPU cores
    or GPUs), set globally. Build and compile the model inside `strategy.scope()`, and
    multiply the batch size by `strategy.num_replicas_in_sync`.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy, description = _tensorflow_strategy()
    elif backend == "jax":
        import jax

        devices = jax.devices()
        if len(devices) > 1:
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        description = f"JAX data parallel over {len(devices)} {devices[0].platform.upper()} device(s)"
        strategy = SingleDeviceStrategy(len(devices), description)
    else:
        description = f"{backend} backend, one device"
        strategy = SingleDeviceStrategy(1, description)
    if verbose:
        print(f"strategy: {description} ({strategy.num_replicas_in_sync} replica(s))")
    return strategy


def _tensorflow_strategy():
    import tensorflow as tf

    resolver = _tpu_cluster_resolver()
    if resolver is not None:
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver), "TPUStrategy"
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy(), f"MirroredStrategy over {len(gpus)} GPUs"
    device = "one GPU" if gpus else "the CPU"
    return tf.distribute.get_strategy(), f"default strategy on {device}"
