"""Training throughput of our Keras models against the official PyTorch code, side by side.

The official SHI-Labs/Compact-Transformers code is not part of this repository: check it out
somewhere else and give its folder with --official. It needs a Python with PyTorch
(--torch-python). Both sides train at the same batch size on random 32x32 images with the
same thread count (forward, backward, AdamW step; ours through `model.fit`). Runs alternate,
ours then theirs, for several cycles; the reported ratio is the median of the paired ratios,
since runs of the same code vary by up to 20% on shared machines.

    python benchmarks/compare_official.py --official ../Compact-Transformers \
        --torch-python ../torchenv/bin/python --models cct_2_3x2,cct_7_3x1 --cycles 5
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

# Runs in the PyTorch interpreter: times the official model's eager training step.
TORCH_TIMER = """
import statistics, sys, time
import torch
sys.path.insert(0, {official!r})
from src import cct, cvt, vit
torch.set_num_threads({threads})
name, batch, steps, block = {name!r}, {batch}, {steps}, {block}
family = {{"cct": cct, "cvt": cvt, "vit": vit}}[name.split("_")[0]]
model = getattr(family, name + "_32")(num_classes=10)  # the official names are ours plus "_32"
optimizer = torch.optim.AdamW(model.parameters(), lr=5.5e-4, weight_decay=6e-2)
loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
images, labels = torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))
model.train()
times = []
for _ in range(steps):
    optimizer.zero_grad(set_to_none=True)
    loss_fn(model(images), labels).backward()
    optimizer.step()
    times.append(time.perf_counter())
blocks = [(times[i + block] - times[i]) / block for i in range(block, len(times) - block, block)]
print(batch / statistics.median(blocks))
"""


def measure_official(args, name):
    script = TORCH_TIMER.format(
        official=str(Path(args.official).resolve()), threads=args.threads, name=name,
        batch=args.batch_size, steps=args.steps, block=args.block,
    )
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    result = subprocess.run([args.torch_python, "-c", script], capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"the official model's timing failed:\n{result.stderr[-3000:]}")
    return float(result.stdout.split()[-1])


def measure_ours(args, name):
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "row.json"
        command = [sys.executable, "-m", "helpers.benchmark", "--models", name, "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps), "--json", str(out)]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        if result.returncode:
            raise RuntimeError(f"our benchmark failed:\n{result.stderr[-3000:]}")
        return json.loads(out.read_text())["rows"][0]["train_images_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, help="folder of a SHI-Labs/Compact-Transformers checkout")
    parser.add_argument("--torch-python", required=True, help="a Python interpreter with PyTorch")
    parser.add_argument("--models", default="cct_2_3x2,cct_7_3x1")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--block", type=int, default=4)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write every measurement here")
    args = parser.parse_args()

    report = {}
    for name in args.models.split(","):
        pairs = []
        for cycle in range(args.cycles):
            ours, theirs = measure_ours(args, name), measure_official(args, name)
            pairs.append({"ours": ours, "official": theirs, "ratio": ours / theirs})
            print(f"{name} cycle {cycle + 1}: ours {ours:.1f} img/s, official {theirs:.1f} img/s, ratio {ours / theirs:.2f}", flush=True)
        report[name] = {"pairs": pairs, "median_ratio": statistics.median(p["ratio"] for p in pairs)}
        print(f"{name}: median paired ratio {report[name]['median_ratio']:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
