"""Where the code runs: smoke mode, seeds, and the distribution strategy for TPU / GPUs / CPU."""

import contextlib
import glob
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field

SMOKE_VARIABLE = "CCT_SMOKE"
PRECISION_VARIABLE = "CCT_PRECISION"
PRECISIONS = ("auto", "float32", "mixed_bfloat16")


def smoke_mode():
    """True when CCT_SMOKE is set to 1/true/yes: notebooks then shrink to a quick check."""
    return os.environ.get(SMOKE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def tpu_present():
    """A Cloud TPU is attached (Colab TPU runtimes, TPU VMs), judged without importing a framework."""
    markers = ("COLAB_TPU_ADDR", "TPU_NAME", "TPU_ACCELERATOR_TYPE")
    return any(os.environ.get(name) for name in markers) or bool(glob.glob("/dev/accel*") + glob.glob("/dev/vfio/[0-9]*"))


def prepare_runtime():
    """Run before Keras is imported. On a TPU choose the JAX backend (Colab's TPU runtimes no
    longer ship TensorFlow) and, in Colab, install TensorFlow for the tf.data input pipeline;
    elsewhere keep KERAS_BACKEND as it is (TensorFlow by default). Locally this changes nothing."""
    if "keras" in sys.modules:
        print("note: Keras is already imported; restart the kernel to change its backend")
    elif tpu_present() and "KERAS_BACKEND" not in os.environ:
        os.environ["KERAS_BACKEND"] = "jax"
    if "google.colab" in sys.modules and importlib.util.find_spec("tensorflow") is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tensorflow-cpu"], check=True)
    print(f"Keras backend: {os.environ.get('KERAS_BACKEND', 'tensorflow')}")


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


# The 7-layer models are what the paper trains; the 2-layer trio shares one backbone and
# 64 tokens, so the comparison between notebooks stays fair on a CPU.
PAPER_MODELS = {"vit_lite": "vit_lite_7_4", "cvt": "cvt_7_4", "cct": "cct_7_3x1"}
SMALL_MODELS = {"vit_lite": "vit_lite_2_4", "cvt": "cvt_2_4", "cct": "cct_2_3x2"}
# CPU profile: what fits in about 15 minutes of training per notebook on a laptop.
CPU_EPOCHS = 5
SMOKE_TRAIN_IMAGES, SMOKE_TEST_IMAGES = 256, 128


@dataclass
class RunSettings:
    """One notebook run's settings, picked from smoke mode and the device present."""

    profile: str  # "smoke", "cpu" or "accelerator"
    device: str
    models: dict
    recipe: str
    epochs: int
    batch_size: int
    precision: str = "float32"
    strategy: object = field(repr=False, default=None)

    @property
    def smoke(self):
        return self.profile == "smoke"

    def describe(self):
        lines = [
            f"smoke mode: {'on' if self.smoke else 'off'}",
            f"device: {self.device}, {self.strategy.num_replicas_in_sync} replica(s)",
            f"profile: {self.profile}",
            f"models: {', '.join(self.models.values())}",
            f"recipe: {self.recipe}, epochs: {self.epochs}, batch size: {self.batch_size}",
            f"precision: {self.precision}"
            + (" (bfloat16 compute, float32 weights)" if self.precision == "mixed_bfloat16" else ""),
            "data: "
            + (
                f"shipped CIFAR-10 sample, cut to {SMOKE_TRAIN_IMAGES} train / {SMOKE_TEST_IMAGES} test images"
                if self.smoke
                else f"CIFAR-10 from CIFAR10_DIR={os.environ['CIFAR10_DIR']}"
                if os.environ.get("CIFAR10_DIR")
                else "CIFAR-10 (Keras download)"
            ),
        ]
        if self.profile == "cpu":
            lines.append(
                "note: no accelerator found, so the 2-layer models and a few epochs replace the "
                "paper's 7-layer models and 300 (+10 cool-down) epochs"
            )
        if self.smoke:
            lines.append("note: smoke mode checks that the notebook runs; its numbers are not results")
        return "\n".join(lines)

    def load_data(self):
        """(x_train, y_train), (x_test, y_test) for this run."""
        from helpers.data import load_cifar10, load_cifar10_sample

        if self.smoke:
            (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
            return (x_train[:SMOKE_TRAIN_IMAGES], y_train[:SMOKE_TRAIN_IMAGES]), (
                x_test[:SMOKE_TEST_IMAGES],
                y_test[:SMOKE_TEST_IMAGES],
            )
        return load_cifar10()


def notebook_settings(verbose=True):
    """Choose and print a notebook's run settings.

    Smoke mode (CCT_SMOKE=1): the 2-layer models, a slice of the shipped sample, 1 epoch.
    Accelerator (GPU/TPU): the paper's 7-layer models and recipe, 300 epochs and 10 of cool-down.
    CPU: the 2-layer models, the short recipe, CPU_EPOCHS epochs.
    The batch size is the recipe's 128 per replica; the precision is `choose_precision()`'s.
    """
    from helpers.training import RECIPES  # imports Keras, which prepare_runtime() must precede

    strategy = get_strategy(verbose=False)
    device = accelerator()
    if smoke_mode():
        profile, models, recipe, epochs = "smoke", SMALL_MODELS, "short", 1
    elif device in ("GPU", "TPU"):
        profile, models, recipe, epochs = "accelerator", PAPER_MODELS, "paper", RECIPES["paper"].epochs
    else:
        profile, models, recipe, epochs = "cpu", SMALL_MODELS, "short", CPU_EPOCHS
    batch_size = (64 if profile == "smoke" else 128) * strategy.num_replicas_in_sync
    settings = RunSettings(profile, device, dict(models), recipe, epochs, batch_size, choose_precision(device=device), strategy)
    if verbose:
        print(settings.describe())
    return settings
