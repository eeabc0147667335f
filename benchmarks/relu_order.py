"""Does ConvTokenizer's ReLU after the max-pool pay? Training images/s of CCT models with the
tokenizer in its order (pool, then ReLU) and in the paper's (ReLU, then pool), side by side.

    python benchmarks/relu_order.py --models cct_2_3x2,cct_7_3x1 --precision float32 --rounds 3

Both orders give the same tokens (max(ReLU(x)) = ReLU(max(x)); notebook 04 checks it), so only
the speed differs. Each measurement is `helpers.experiments.benchmark.measure` (batch 128, synthetic images)
in a process of its own, the two orders alternating round by round so that a machine that
slows down or speeds up during the run hits both alike. Prints one JSON line per measurement
and, per model, the median over rounds of the ratio (ours / paper's order).
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))
ORDERS = ("pool_then_relu", "relu_then_pool")


def paper_order_call(self, images):
    """ConvTokenizer.call in the paper's order (conv -> ReLU -> max-pool), which
    `ConvTokenizer.feature_maps` runs: its last pooled map, read out as tokens."""
    from keras import ops

    x = self.feature_maps(images)[-1]["pool"]
    _, height, width, channels = x.shape
    return ops.reshape(x, (-1, height * width, channels))


def measure_one(model, order, precision, steps):
    from helpers.experiments.benchmark import measure
    from helpers.layers.tokenizers import ConvTokenizer

    if order == "relu_then_pool":
        ConvTokenizer.call = paper_order_call
    row = measure(model, steps=steps, precision=precision)
    return {"model": model, "order": order, "precision": row["precision"], "train_images_per_s": row["train_images_per_s"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="cct_2_3x2,cct_7_3x1")
    parser.add_argument("--precision", default="float32", help="as helpers.train takes it: float32, mixed_bfloat16, auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="training steps per measurement (the first block is warm-up)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "ORDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(*args.one, args.precision, args.steps)), flush=True)
        return
    from helpers.experiments.benchmark import describe_device

    print(json.dumps({"device": describe_device(), "precision": args.precision, "steps": args.steps}), flush=True)
    rates = {}
    for round_index in range(args.rounds):
        for model in args.models.split(","):
            for order in ORDERS if round_index % 2 == 0 else ORDERS[::-1]:
                command = [sys.executable, __file__, "--one", model, order, "--precision", args.precision,
                           "--steps", str(args.steps)]
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                row = json.loads(output.strip().splitlines()[-1])
                print(json.dumps({"round": round_index, **row}), flush=True)
                rates.setdefault(model, {}).setdefault(order, []).append(row["train_images_per_s"])
    for model, by_order in rates.items():
        ratios = [ours / papers for ours, papers in zip(by_order[ORDERS[0]], by_order[ORDERS[1]])]
        print(
            f"{model}: {statistics.median(by_order[ORDERS[0]]):.1f} img/s with ReLU after the pool, "
            f"{statistics.median(by_order[ORDERS[1]]):.1f} before it; ratio per round "
            f"{', '.join(f'{r:.3f}' for r in ratios)} (median {statistics.median(ratios):.3f})"
        )


if __name__ == "__main__":
    main()
