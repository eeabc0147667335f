"""How fast do the models train here? Parameters, MACs and images per second, one row a model.

    python -m helpers.experiments.benchmark --models cct_2_3x2,cct_7_3x1 --batch-size 128 --json out.json

Training speed is measured through `model.fit`, as the notebooks train (forward, backward
and optimizer step on in-memory data, so the input pipeline is not measured), after a
warm-up block, as the median over several timed blocks of steps. Achieved GFLOP/s are set
against the machine's measured matmul peak at the same precision (`matmul_peak_gflops`). MACs are counted from the
layer shapes; the paper's counts leave out the two attention products QK^T and AV, so both
are reported.
"""

import argparse
import json
import os
import statistics
import time

import numpy as np

import keras

from helpers.layers import ConvTokenizer, PatchTokenizer, TransformerEncoder
from helpers.layers.involution import InvolutionTokenizer
from helpers.layers.resnet import BasicBlock
from helpers.models import count_parameters, create_model
from helpers.runtime.device import PRECISIONS, accelerator, choose_precision
from helpers.recipes import compile_model, get_recipe

DEFAULT_MODELS = ("cct_2_3x2", "cct_7_3x1", "cvt_7_4", "vit_lite_7_4")
CIFAR10_TRAIN_IMAGES = 50_000


def count_macs(model):
    """Multiply-accumulates per image: (without the attention products, with them)."""
    linear, attention = 0, 0
    for layer in model.layers:
        if isinstance(layer, InvolutionTokenizer):  # per stage: a 1x1 projection, then an involution
            height, width, channels = layer.input.shape[1:]
            for (projection, involution, *_), (conv_height, conv_width, _, _) in zip(layer.stages, layer.stage_sizes(height, width)):
                filters = projection.filters
                linear += conv_height * conv_width * (channels * filters + involution.macs_per_position(filters))
                channels = filters
        elif isinstance(layer, ConvTokenizer):
            height, width, channels = layer.input.shape[1:]
            for stage, (conv_height, conv_width, _, _) in zip(layer.stages, layer.stage_sizes(height, width)):
                filters = stage[1].filters
                linear += conv_height * conv_width * layer.kernel_size**2 * channels * filters
                channels = filters
        elif isinstance(layer, PatchTokenizer):
            tokens, embed_dim = layer.output.shape[1:]
            linear += tokens * layer.patch_size**2 * layer.input.shape[-1] * embed_dim
        elif isinstance(layer, TransformerEncoder):
            tokens, dim = layer.input.shape[1:]
            hidden = int(dim * layer.mlp_ratio)
            linear += tokens * (4 * dim * dim + 2 * dim * hidden)
            attention += 2 * tokens * tokens * dim
        elif isinstance(layer, BasicBlock):  # the CNN baseline's residual blocks (its shortcuts cost no MACs)
            linear += sum(_conv_macs(conv, shape) for conv, shape in layer.convolutions(layer.input.shape))
        elif isinstance(layer, keras.layers.Conv2D):  # the CNN baseline's stem
            linear += _conv_macs(layer, layer.input.shape)
        elif layer.name == "seq_pool":
            linear += int(np.prod(layer.input.shape[1:]))
        elif layer.name == "classifier":
            linear += int(np.prod(layer.kernel.shape))
    return linear, linear + attention


def _conv_macs(conv, input_shape):
    """A convolution's MACs per image, as for the tokenizer: output pixels x kernel x in x out channels."""
    _, height, width, filters = conv.compute_output_shape(input_shape)
    kernel_height, kernel_width = conv.kernel_size
    return height * width * kernel_height * kernel_width * input_shape[-1] * filters


class _BatchTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def _block_medians(times, block):
    """Median seconds per step over blocks of `block` steps, the first block left out as warm-up."""
    blocks = [(times[i + block] - times[i]) / block for i in range(block, len(times) - block, block)]
    return statistics.median(blocks)


def measure(name, batch_size=128, steps=30, block=5, image_size=32, jit_compile="auto", precision="auto", **model_overrides):
    """One row: parameters, MACs, training and inference images/s, epoch time, GFLOP/s.
    `precision` as `helpers.train.train` takes it ("auto" picks what training would use)."""
    precision = choose_precision(precision)
    block = max(1, min(block, steps // 3))  # at least two timed blocks after the warm-up one
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(batch_size * (steps + 1), image_size, image_size, 3)).astype("float32")
    labels = np.eye(10, dtype="float32")[rng.integers(0, 10, size=len(images))]
    model = create_model(name, image_size=image_size, dtype=precision, **model_overrides)
    compile_model(model, get_recipe("short"), steps_per_epoch=steps, jit_compile=jit_compile)
    timer = _BatchTimer()
    model.fit(images, labels, batch_size=batch_size, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer], shuffle=False)
    train_step = _block_medians(timer.times, block)

    batch = images[:batch_size]
    model.predict_on_batch(batch)
    inference_times = []
    for _ in range(max(3, steps // block)):
        start = time.perf_counter()
        for _ in range(block):
            keras.ops.convert_to_numpy(model.predict_on_batch(batch))
        inference_times.append((time.perf_counter() - start) / block)

    macs_paper, macs = count_macs(model)
    train_rate = batch_size / train_step
    gflops = 6 * macs * train_rate / 1e9  # a training step costs about 3 forward passes: 2 FLOPs per MAC, times 3
    return {
        "model": name,
        "parameters": count_parameters(model),
        "macs_paper_g": round(macs_paper / 1e9, 3),
        "macs_g": round(macs / 1e9, 3),
        "train_images_per_s": round(train_rate, 1),
        "inference_images_per_s": round(batch_size / statistics.median(inference_times), 1),
        "epoch_time_s": round(CIFAR10_TRAIN_IMAGES / train_rate, 1),
        "gflops": round(gflops, 1),
        "share_of_matmul_peak": round(gflops / matmul_peak_gflops(precision), 3),
        "batch_size": batch_size,
        "precision": precision,
        "xla": bool(model.jit_compile),
    }


def matmul_peak_gflops(precision, size=2048, repeats=5):
    """The machine's measured matmul peak for `precision` (a Keras dtype policy): GFLOP/s of the
    fastest of `repeats` products of two size x size matrices in its compute dtype, through the
    backend's own matmul. The yardstick for a model's achieved GFLOP/s. Measured once per process."""
    key = (keras.mixed_precision.DTypePolicy(precision).compute_dtype, size, repeats)
    if key not in _PEAKS:
        dtype = key[0]
        a = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((size, size)), dtype=dtype)
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))  # warm-up (and compilation)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
            best = min(best, time.perf_counter() - start)
        _PEAKS[key] = 2 * size**3 / best / 1e9
    return _PEAKS[key]


_PEAKS = {}


def benchmark(models=DEFAULT_MODELS, batch_size=128, steps=None, smoke=False, jit_compile="auto", precision="auto", verbose=True):
    """Measure each model; smoke=True makes it finish in seconds (tiny batches, few steps)."""
    if smoke:
        batch_size, steps, block = min(batch_size, 8), 6, 2
    else:
        steps, block = steps or 30, 5
    rows = []
    for name in models:
        rows.append(measure(name, batch_size=batch_size, steps=steps, block=block, jit_compile=jit_compile, precision=precision))
        if verbose:
            print(f"{name}: {rows[-1]['train_images_per_s']} training images/s ({rows[-1]['precision']})", flush=True)
    return rows


def describe_device():
    return f"Keras {keras.__version__}, {keras.backend.backend()} backend, {accelerator()}, {os.cpu_count()} CPU cores"


COLUMNS = [
    ("model", "model", "{}"),
    ("parameters", "params (M)", "{:.3f}"),
    ("macs_paper_g", "GMACs paper", "{:.3f}"),
    ("macs_g", "GMACs all", "{:.3f}"),
    ("train_images_per_s", "train img/s", "{:.1f}"),
    ("inference_images_per_s", "infer img/s", "{:.1f}"),
    ("epoch_time_s", "epoch (min)", "{:.1f}"),
    ("gflops", "GFLOP/s", "{:.1f}"),
    ("share_of_matmul_peak", "of peak", "{:.0%}"),
    ("precision", "precision", "{}"),
]


def format_table(rows):
    """A plain-text table, one row a model."""
    cells = [[title for _, title, _ in COLUMNS]]
    for row in rows:
        values = dict(row, parameters=row["parameters"] / 1e6, epoch_time_s=row["epoch_time_s"] / 60)
        cells.append([fmt.format(values[key]) for key, _, fmt in COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model names")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, help="training steps to time (default 30)")
    parser.add_argument(
        "--jit-compile", choices=["auto", "true", "false"], default="auto",
        help="XLA, as model.compile takes it (auto, what training uses: XLA except on a TensorFlow CPU)",
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="auto: what training here would use")
    parser.add_argument("--json", help="also write the rows and the device to this file")
    parser.add_argument("--smoke", action="store_true", help="finish in seconds (for tests)")
    args = parser.parse_args(argv)

    jit_compile = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    print(describe_device(), flush=True)
    rows = benchmark(args.models.split(","), args.batch_size, args.steps, args.smoke, jit_compile, args.precision)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"device": describe_device(), "smoke": args.smoke, "rows": rows}, file, indent=2)


if __name__ == "__main__":
    main()
