"""Training throughput of our Keras models against the official PyTorch code and the keras.io
CCT example, side by side on this machine.

Neither reference is part of this repository: check out SHI-Labs/Compact-Transformers somewhere
else and give its folder with --official (it needs a Python with PyTorch, --torch-python), and
give the keras.io example's file (keras-io's examples/vision/cct.py) with --keras-io-example (it
runs on tf.keras 2: `pip install tf_keras` matching your TensorFlow).
Every side trains at the same batch size on random 32x32 images with the same thread count
(forward, backward, AdamW step): the official model in an eager PyTorch loop, ours and the
keras.io model through `model.fit`. Both sides compute at the same precision: our float32
against PyTorch's float32, our mixed_bfloat16 against the official code under
`torch.autocast("cpu", dtype=torch.bfloat16)` (the one-line change a PyTorch user makes; the
weights and the optimizer stay float32 on both sides). The keras.io example runs in float32 only. Runs alternate, ours then each reference, for several
cycles; the reported ratio is the median of the paired ratios, since runs of the same code
vary by up to 20% on shared machines.

    python benchmarks/compare_official.py --models cct_2_3x2,cct_7_3x1 --precisions float32,mixed_bfloat16 \\
        --cycles 5 --official ../Compact-Transformers --torch-python ../torchenv/bin/python \\
        --keras-io-example ../keras-io/examples/vision/cct.py

The keras.io example's model (0.4M parameters, 2 layers) is compared with our cct_2_3x2.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Runs in the PyTorch interpreter: times the official model's eager training step.
TORCH_TIMER = """
import statistics, sys, time
import torch
sys.path.insert(0, {official!r})
from src import cct, cvt, vit
torch.set_num_threads({threads})
name, batch, steps, block, autocast = {name!r}, {batch}, {steps}, {block}, {autocast}
family = {{"cct": cct, "cvt": cvt, "vit": vit}}[name.split("_")[0]]
model = getattr(family, name + "_32")(num_classes=10)  # the official names are ours plus "_32"
optimizer = torch.optim.AdamW(model.parameters(), lr=5.5e-4, weight_decay=6e-2)
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
images, labels = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
model.train()
times = []
for _ in range(steps):
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    times.append(time.perf_counter())
blocks = [(times[i + block] - times[i]) / block for i in range(block, len(times) - block, block)]
print(batch / statistics.median(blocks))
"""

# Runs in our Python with the Keras the example was written for (tf.keras 2, from the tf_keras
# package, TF_USE_LEGACY_KERAS=1): builds the example's model from its own file and times its
# `fit`. The file's definitions run unchanged; the training part at its end is left out,
# CIFAR-10 loading is replaced by random data, and the AdamW of the retired TensorFlow Addons
# by tf.keras' own with the example's settings.
KERAS_IO_TIMER = """
import statistics, time
import numpy as np
import tensorflow as tf
keras = tf.keras
source = open({example!r}).read()
source = source[: source.index("def run_experiment")].replace("import tensorflow_addons as tfa", "")
keras.datasets.cifar10.load_data = lambda: ((np.zeros((8, 32, 32, 3), "uint8"), np.zeros((8, 1), "uint8")),) * 2
namespace = {{}}
exec(compile(source, {example!r}, "exec"), namespace)
model = namespace["create_cct_model"]()
model.compile(
    optimizer=keras.optimizers.AdamW(learning_rate=0.001, weight_decay=0.0001),
    loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
    metrics=[keras.metrics.CategoricalAccuracy(name="accuracy"), keras.metrics.TopKCategoricalAccuracy(5, name="top-5-accuracy")],
)
batch, steps, block = {batch}, {steps}, {block}
rng = np.random.default_rng(0)
images = rng.integers(0, 256, size=(batch * steps, 32, 32, 3)).astype("float32")
labels = np.eye(10, dtype="float32")[rng.integers(0, 10, size=len(images))]
times = []
timer = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_: times.append(time.perf_counter()))
model.fit(images, labels, batch_size=batch, epochs=1, verbose=0, callbacks=[timer], shuffle=False)
blocks = [(times[i + block] - times[i]) / block for i in range(block, len(times) - block, block)]
print(model.count_params(), batch / statistics.median(blocks))
"""


def _run(command, env, what):
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-3000:]}")
    return result.stdout.split()


def _env(args, **extra):
    threads = str(args.threads)
    return {**os.environ, "OMP_NUM_THREADS": threads, "TF_NUM_INTRAOP_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def measure_official(args, name, precision):
    script = TORCH_TIMER.format(
        official=str(Path(args.official).resolve()), threads=args.threads, name=name,
        batch=args.batch_size, steps=args.steps, block=args.block, autocast=precision == "mixed_bfloat16",
    )
    return float(_run([args.torch_python, "-c", script], _env(args), "the official model's timing")[-1])


def measure_keras_io(args):
    script = KERAS_IO_TIMER.format(
        example=str(Path(args.keras_io_example).resolve()), batch=args.batch_size, steps=args.steps, block=args.block
    )
    env = _env(args, TF_USE_LEGACY_KERAS="1")  # needs the tf_keras package
    return float(_run([sys.executable, "-c", script], env, "the keras.io example's timing")[-1])


def measure_ours(args, name, precision, jit_compile):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "row.json"
        command = [sys.executable, "-m", "helpers.experiments.benchmark", "--models", name, "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps), "--precision", precision, "--jit-compile", jit_compile, "--json", str(out)]
        _run(command, _env(args, PYTHONPATH=str(ROOT)), "our benchmark")
        return json.loads(out.read_text())["rows"][0]


def compare(args, name, precision, reference, measure_reference):
    """Ours (at each --jit-compile setting) and the reference in turn, `args.cycles` times."""
    pairs = {jit: [] for jit in args.jit_compile}
    for cycle in range(args.cycles):
        rows, theirs = {jit: measure_ours(args, name, precision, jit) for jit in args.jit_compile}, measure_reference()
        for jit, row in rows.items():
            assert row["precision"] == precision, (row["precision"], precision)
            ours = row["train_images_per_s"]
            pairs[jit].append({"ours": ours, "reference": theirs, "ratio": ours / theirs, "xla": row["xla"],
                               "share_of_matmul_peak": row["share_of_matmul_peak"]})
            print(f"{name} vs {reference}, {precision} both, cycle {cycle + 1}: ours (XLA {'on' if row['xla'] else 'off'}) "
                  f"{ours:.1f} img/s, {reference} {theirs:.1f} img/s, ratio {ours / theirs:.2f}", flush=True)
    report = {"precision": precision}
    for jit, found in pairs.items():
        median = statistics.median(p["ratio"] for p in found)
        print(f"{name} vs {reference}, {precision} both, --jit-compile {jit}: median paired ratio {median:.2f}", flush=True)
        report[f"jit_compile={jit}"] = {"pairs": found, "median_ratio": median}
    return report


def cpu_name():
    """The CPU model and whether it computes bfloat16 natively: ratios differ between CPUs."""
    from helpers.runtime.device import cpu_computes_bfloat16

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown") if Path("/proc/cpuinfo").exists() else "unknown"
    return f"{model}, {os.cpu_count()} cores, native bfloat16: {'yes' if cpu_computes_bfloat16() else 'no'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", help="folder of a SHI-Labs/Compact-Transformers checkout")
    parser.add_argument("--torch-python", help="a Python interpreter with PyTorch, for --official")
    parser.add_argument("--keras-io-example", help="keras-io's examples/vision/cct.py")
    parser.add_argument("--models", default="cct_2_3x2,cct_7_3x1", help="ours, compared with the official ones")
    parser.add_argument(
        "--precisions", default="float32,mixed_bfloat16",
        help="compared at each: float32 (both sides) and/or mixed_bfloat16 (ours; the official code under autocast bfloat16)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--jit-compile", default="auto",
        help="ours at each of these XLA settings of helpers.experiments.benchmark, comma-separated (e.g. auto,true)",
    )
    parser.add_argument("--json", help="write every measurement here")
    args = parser.parse_args()
    if not (args.official or args.keras_io_example):
        parser.error("give --official (with --torch-python), --keras-io-example, or both")
    if args.official and not args.torch_python:
        parser.error("--official needs --torch-python")

    args.jit_compile = args.jit_compile.split(",")
    if set(args.jit_compile) - {"auto", "true", "false"}:
        parser.error("--jit-compile: each of auto, true, false")
    precisions = args.precisions.split(",")
    unknown = set(precisions) - {"float32", "mixed_bfloat16"}
    if unknown:
        parser.error(f"--precisions: {', '.join(sorted(unknown))} is not float32 or mixed_bfloat16")
    report = {"cpu": cpu_name(), "threads": args.threads}
    if args.official:
        for name in args.models.split(","):
            for precision in precisions:
                report[f"{name} vs official, {precision}"] = compare(
                    args, name, precision, "official", lambda: measure_official(args, name, precision)
                )
    if args.keras_io_example:
        report["cct_2_3x2 vs keras.io, float32"] = compare(
            args, "cct_2_3x2", "float32", "keras.io", lambda: measure_keras_io(args)
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
