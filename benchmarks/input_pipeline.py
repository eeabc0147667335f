"""Input-pipeline throughput: the paper recipe's augmentation on the host (tf.data) or on the
device (ImageBatches + augment_batch), on this machine's CPU.

    CIFAR10_DIR=~/.cache/compact-transformers/cifar10 python benchmarks/input_pipeline.py

Each measurement runs in its own process (one Keras backend each) and prints one JSON line;
the parent prints a table. Without CIFAR10_DIR the 4000-image sample is used (and repeated).
  host        ImageBatches(augment="paper") batches/s: parameter draws, label mixing, uint8 gather
  tfdata      make_datasets(..., augment="paper") batches/s (the tf.data pipeline, TensorFlow)
  augment     augment_batch on batch 128, jit-compiled (tf.function(jit_compile=True) / jax.jit)
  train       cct_2_3x2 fit img/s (float32, batch 128) with either pipeline, and without augmentation
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
BATCH = 128


def load():
    from helpers.data import load_cifar10, load_cifar10_sample

    if os.environ.get("CIFAR10_DIR"):
        (x, y), _ = load_cifar10()
        return x, y.reshape(-1), "CIFAR-10 (50000)"
    (x, y), _ = load_cifar10_sample()
    return x, y.reshape(-1), "sample (4000)"


def part_host(batches):
    from helpers.pipeline.batches import ImageBatches

    x, y, data = load()
    dataset = ImageBatches(x, y, BATCH, augment="paper", seed=0)
    dataset[0]
    start, count = time.perf_counter(), 0
    while count < batches:
        for i in range(min(len(dataset), batches - count)):
            dataset[i]
            count += 1
        dataset.on_epoch_end()
    seconds = time.perf_counter() - start
    return {"images_per_s": count * BATCH / seconds, "data": data, "tensorflow_imported": "tensorflow" in sys.modules}


def part_tfdata(batches):
    from helpers.pipeline.host import make_datasets

    x, y, data = load()
    train, _ = make_datasets(x, y, x[:BATCH], y[:BATCH], batch_size=BATCH, augment="paper", seed=0)
    iterator = iter(train.repeat())
    for _ in range(5):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return {"images_per_s": batches * BATCH / (time.perf_counter() - start), "data": data}


def part_augment(batches):
    import keras

    from helpers.pipeline import draws
    from helpers.pipeline.on_device import augment_batch

    x, y, _ = load()
    rng = np.random.default_rng(0)
    params, _ = draws.sample_paper_params(rng, y[:BATCH], 10, (32, 32))
    images = x[:BATCH]
    if keras.backend.backend() == "jax":
        import jax

        fn = jax.jit(augment_batch)
        wait = lambda out: out.block_until_ready()  # noqa: E731
    else:
        import tensorflow as tf

        fn = tf.function(augment_batch, jit_compile=True)
        images = tf.constant(images)
        params = {k: tf.constant(v) for k, v in params.items()}
        wait = lambda out: out.numpy()  # noqa: E731
    start = time.perf_counter()
    wait(fn(images, params))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(batches):
        out = fn(images, params)
    wait(out)
    return {"images_per_s": batches * BATCH / (time.perf_counter() - start), "compile_s": compile_s}


def part_train(pipeline, steps, warmup):
    import keras

    from helpers.pipeline.batches import ImageBatches
    from helpers.pipeline.host import make_datasets
    from helpers.models import create_model
    from helpers.recipes import compile_model, get_recipe

    x, y, _ = load()
    if pipeline == "device":
        train = ImageBatches(x, y, BATCH, augment="paper", seed=0)
    elif pipeline == "none":
        train = ImageBatches(x, y, BATCH, seed=0, shuffle=True, drop_remainder=True)
    else:
        train, _ = make_datasets(x, y, x[:BATCH], y[:BATCH], batch_size=BATCH, augment="paper", seed=0)
    model = create_model("cct_2_3x2")
    compile_model(model, get_recipe("short", epochs=1), steps + warmup)
    times = []

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter())

    model.fit(train, epochs=1, steps_per_epoch=steps + warmup, verbose=0, callbacks=[Clock()])
    return {"images_per_s": steps * BATCH / (times[-1] - times[warmup - 1])}


def child(args):
    if args.part == "host":
        result = part_host(args.batches)
    elif args.part == "tfdata":
        result = part_tfdata(args.batches // 4)
    elif args.part == "augment":
        result = part_augment(args.batches // 4)
    else:
        result = part_train(args.part.split("-")[1], args.steps, args.warmup)
    import keras

    print(json.dumps({"backend": keras.backend.backend(), **result}))


RUNS = [
    ("host", "jax", "(a) ImageBatches host side (draws + mixing + gather)"),
    ("tfdata", "tensorflow", "(b) tf.data make_datasets(augment='paper')"),
    ("augment", "tensorflow", "(c) augment_batch, batch 128, XLA (TensorFlow)"),
    ("augment", "jax", "(c) augment_batch, batch 128, jax.jit"),
    ("train-device", "tensorflow", "(d) fit cct_2_3x2, device augmentation (TF)"),
    ("train-tfdata", "tensorflow", "(d) fit cct_2_3x2, tf.data augmentation (TF)"),
    ("train-none", "tensorflow", "(d) fit cct_2_3x2, no augmentation (TF, baseline)"),
    ("train-device", "jax", "(d) fit cct_2_3x2, device augmentation (JAX)"),
    ("train-none", "jax", "(d) fit cct_2_3x2, no augmentation (JAX, baseline)"),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part")
    parser.add_argument("--batches", type=int, default=400, help="host batches; a quarter for tf.data and augment_batch")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="parts to run (e.g. host augment)")
    args = parser.parse_args()
    if args.part:
        return child(args)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    print(f"CPU: {model}, {os.cpu_count()} cores visible; batch {BATCH}; float32")
    rows = []
    for part, backend, label in RUNS:
        if args.only and part not in args.only and part.split("-")[0] not in args.only:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        command = [sys.executable, __file__, "--part", part, "--batches", str(args.batches), "--steps", str(args.steps), "--warmup", str(args.warmup)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            rows.append((label, "failed: " + done.stderr.strip().splitlines()[-1][:80]))
        else:
            result = json.loads(done.stdout.strip().splitlines()[-1])
            extra = {k: v for k, v in result.items() if k not in ("images_per_s", "backend")}
            rows.append((label, f"{result['images_per_s']:10,.0f} img/s  {extra or ''}"))
        print(f"{rows[-1][0]:55s} {rows[-1][1]}", flush=True)


if __name__ == "__main__":
    main()
