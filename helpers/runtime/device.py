"""The device: starting the Keras backend quietly, which precision, seeds, how to spread
training over the devices present (TPU cores, GPUs or the CPU), and checking images on it.

Importable before Keras: call `prepare()` first in a notebook (the set-up cell does), since
the backend (`helpers.runtime.backend`) can only be chosen before Keras is imported.
"""

import contextlib
import os
import sys
import tempfile

import numpy as np

from helpers.runtime.backend import choose_backend

PRECISION_VARIABLE = "CCT_PRECISION"
PRECISIONS = ("auto", "float32", "mixed_bfloat16")


def prepare(verbose=True):
    """Choose the Keras backend, then import Keras and start its devices without their start-up
    logs. On a TPU the backend is JAX (Colab's TPU runtimes ship no TensorFlow, and the JAX
    path needs none); elsewhere KERAS_BACKEND as set (TensorFlow by default)."""
    if "keras" in sys.modules:
        print("note: Keras is already imported; restart the kernel to change its backend")
    choose_backend()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_logs():
        import keras

        _start_devices(keras.backend.backend())
    if verbose:
        print(f"Keras {keras.__version__}, backend: {keras.backend.backend()}, device: {accelerator()}")


def _start_devices(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.list_logical_devices()
    elif backend == "jax":
        import jax

        jax.devices()


@contextlib.contextmanager
def quiet_native_logs():
    """Hold back what C++ code writes to stderr (TensorFlow's and XLA's start-up lines, such as
    "failed call to cuInit" on a machine without a GPU): TF_CPP_MIN_LOG_LEVEL does not reach the
    lines written before logging starts. Shown after all if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as held:
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


# CPU flags of bfloat16 arithmetic in hardware: Intel AMX tiles, and AVX-512 BF16 dot products
# (Intel Cooper Lake and later Xeons, AMD Zen 4 and later).
BFLOAT16_CPU_FLAGS = {"amx_bf16", "avx512_bf16"}


def cpu_computes_bfloat16(cpuinfo="/proc/cpuinfo"):
    """True when the CPU multiplies bfloat16 numbers in hardware (a flag in BFLOAT16_CPU_FLAGS)."""
    try:
        with open(cpuinfo) as file:
            return any(line.startswith("flags") and BFLOAT16_CPU_FLAGS & set(line.split()) for line in file)
    except OSError:
        return False


def choose_precision(preference=None, device=None):
    """The Keras dtype policy to train with: "mixed_bfloat16" (bfloat16 compute, float32
    weights) where the device computes bfloat16 natively, else "float32".

    Native bfloat16: TPUs, GPUs of compute capability 8.0 or newer (A100, L4, H100), and CPUs
    with AMX or AVX-512 BF16 (Intel Xeon since Cooper Lake, AMD EPYC and Ryzen since Zen 4: on
    2 cores of either an AMX Xeon or a Zen 4 EPYC it trains cct_2_3x2 about 1.4 times as fast as
    float32). A CPU without them stays in float32, where bfloat16 would be slower.
    `preference` "float32" or "mixed_bfloat16" forces that precision; "auto" or None (the
    default) takes the environment variable CCT_PRECISION when it is set, and otherwise
    decides as above. `train()`, `python -m helpers.train` and the notebooks all decide here.
    """
    if preference in (None, "auto"):
        source = f" from the environment variable {PRECISION_VARIABLE}"
        preference = os.environ.get(PRECISION_VARIABLE, "").strip() or "auto"
    else:
        source = ""
    if preference not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {preference!r}{source}.")
    if preference != "auto":
        return preference
    device = device or accelerator()
    if device == "TPU" or (device == "GPU" and _gpu_compute_capability() >= (8, 0)):
        return "mixed_bfloat16"
    if device == "CPU" and cpu_computes_bfloat16():
        return "mixed_bfloat16"
    return "float32"


def _gpu_compute_capability():
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return tuple(details.get("compute_capability", (0, 0)))
    if backend == "jax":
        import jax

        return tuple(int(part) for part in str(jax.devices()[0].compute_capability).split("."))
    if backend == "torch":
        import torch

        return torch.cuda.get_device_capability()
    return (0, 0)


def _tpu_cluster_resolver():
    import tensorflow as tf

    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except (ValueError, RuntimeError):
        return None


def num_replicas(model=None):
    """How many replicas a batch is split over: the devices on the batch axis of the JAX
    distribution set globally (`keras.distribution.DataParallel`, which `get_strategy` sets),
    or the `num_replicas_in_sync` of `model`'s tf.distribute strategy (the one in scope when
    no model is given). 1 on one device. `ImageClassifier.predict` and `evaluate` pad their
    NumPy inputs to a whole number of replicas with it."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        distribution = keras.distribution.distribution()
        if distribution is None:
            return 1
        mesh, axis = distribution.device_mesh, getattr(distribution, "batch_dim_name", None)
        if axis not in mesh.axis_names:
            return 1
        import jax

        # Each process feeds its own share of the batch to its own devices.
        return max(1, mesh.shape[list(mesh.axis_names).index(axis)] // jax.process_count())
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
        return int(strategy.num_replicas_in_sync)
    return 1


def whole_replicas(batch_size, replicas):
    """`batch_size` (Keras' default 32 when None) rounded up to a multiple of `replicas`."""
    return -(-(32 if batch_size is None else int(batch_size)) // replicas) * replicas


def pad_to_replicas(images, labels, replicas, sample_weight=None):
    """(images, labels, sample_weight) with rows of zeros appended up to a multiple of `replicas`,
    so that a batch of them splits evenly over the devices (JAX's data parallelism refuses a
    batch that does not). The padding rows weigh 0 and the real rows `sample_weight` (1 when
    None) times padded/real rows, so that Keras' evaluation of the padded set, whose loss is
    summed over the real rows but averaged over all of them, gives the loss and the metrics of
    the unpadded set (for the default loss reduction, "sum_over_batch_size").
    Nothing to pad: the inputs, unchanged."""
    count = len(images)
    padded = -(-count // replicas) * replicas
    if padded == count:
        return images, labels, sample_weight
    weights = np.ones(count, "float32") if sample_weight is None else np.asarray(sample_weight, "float32")
    weights = weights * np.float32(padded / count)

    def pad(array):
        array = np.asarray(array)
        return np.concatenate([array, np.zeros((padded - count, *array.shape[1:]), array.dtype)])

    return pad(images), pad(labels), pad(weights)


def check_tensor_images(images, what="images"):
    """Check a tensor of images where it lies, with the messages `checks.check_images` gives a NumPy
    array. An eager one (tf.Tensor, jax.Array) whole: its lowest and highest pixel values (NaN if
    any is not finite) are reduced on its device, and only these two numbers come to the host. A
    symbolic one (a KerasTensor, a tf.function graph tensor, a JAX tracer in a compiled step), whose
    values are not known, by its shape only."""
    import keras

    from helpers.runtime.checks import check_image_shape, check_pixel_values

    check_image_shape(tuple(images.shape), what)
    if not _holds_values(images):
        return
    dtype = keras.backend.standardize_dtype(images.dtype)
    if "int" not in dtype and "float" not in dtype:
        raise ValueError(f"{what} must be a numeric array of pixel values 0-255, got dtype {dtype}.")
    extremes = keras.ops.cast(keras.ops.stack([keras.ops.min(images), keras.ops.max(images)]), "float32")
    if "float" in dtype:  # XLA's min and max can pass over NaN (on a CPU): whether all are finite is asked apart
        extremes = keras.ops.where(keras.ops.all(keras.ops.isfinite(images)), extremes, np.nan)
    check_pixel_values(images, what, keras.ops.convert_to_numpy(extremes))


def _holds_values(tensor):
    """Whether `tensor` is one of the backend's tensors with values already computed (eager)."""
    import keras

    if not keras.ops.is_tensor(tensor):
        return False
    if keras.backend.backend() == "jax":
        import jax

        return not isinstance(tensor, jax.core.Tracer)
    return hasattr(tensor, "numpy")  # TensorFlow's (and PyTorch's) eager tensors; graph tensors have none


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
