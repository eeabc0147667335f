"""Publish a finished `python -m helpers.train` run into the repository's results/.

    python scripts/publish_run.py runs/cct_2_3x2_short20 --data "offline JPEG copy" [--ship-weights]

writes results/NAME/history.csv and results/NAME/curves.png, adds or replaces the run's row
in results/results.csv, and with --ship-weights stores the final weights (last.keras, not
the epoch picked on the test split) as helpers/assets/MODEL_cifar10.weights.h5 with a JSON
record of how they were trained (and their per-epoch history), for `create_model(MODEL, weights="cifar10")`,
and records both files' digests in helpers/assets/SHA256SUMS (`helpers.runtime.assets`).
"""

import argparse
import csv
import io
import json
import shutil
from pathlib import Path

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")

from helpers import ASSETS  # noqa: E402
from helpers.models import count_parameters, create_model  # noqa: E402
from helpers.runtime.assets import record  # noqa: E402
from helpers.figures.plotting import plot_history  # noqa: E402
from helpers.runtime.atomic_files import atomic_path, write_json_atomically, write_text_atomically  # noqa: E402
from helpers.runtime.run_folder import read_history  # noqa: E402

ROOT = Path(__file__).parents[1]
TABLE_FIELDS = ["run", "model", "parameters", "recipe", "epochs", "train_images", "test_images",
                "test_accuracy", "data", "device", "precision", "wall_time_s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", required=True, help="which CIFAR-10 copy it trained on, e.g. 'offline JPEG copy'")
    parser.add_argument("--wall-time-s", type=float,
                        help="total training time over all sessions (default: the run's own, when it ran in one session)")
    parser.add_argument("--ship-weights", action="store_true")
    parser.add_argument("--machine", help="what it trained on, e.g. 'NVIDIA H200' (default: the run's device kind)")
    args = parser.parse_args(argv)

    results_path = args.run_dir / "results.json"
    if not results_path.exists():
        raise SystemExit(f"{args.run_dir} holds no finished run (no results.json).")
    results = json.loads(results_path.read_text())
    config = json.loads((args.run_dir / "config.json").read_text())
    name = args.run_dir.name
    out = ROOT / "results" / name
    out.mkdir(parents=True, exist_ok=True)
    for source, target in ((args.run_dir / "history.csv", "history.csv"), (args.run_dir / "config.json", "config.json"),
                           (results_path, "results.json")):
        with atomic_path(out / target) as temporary:
            shutil.copy(source, temporary)

    rows = read_history(args.run_dir)
    history = {key: [float(row[key]) for row in rows] for key in rows[0] if key != "epoch"}
    figure = plot_history(
        {results["model"]: history},
        title=f"{results['model']}, {results['recipe']} recipe, {results['epochs']} epochs ({args.data}); "
        f"dashed = test split",
    )
    with atomic_path(out / "curves.png") as temporary:
        figure.savefig(temporary, dpi=110, format="png")

    row = {
        "run": name,
        "model": results["model"],
        "parameters": results["parameters"],
        "recipe": results["recipe"],
        "epochs": results["epochs"],
        "train_images": results["train_images"],
        "test_images": results["test_images"],
        "test_accuracy": round(results["test_accuracy"], 4),
        "data": args.data,
        "device": results["device"],
        "precision": results.get("precision", "float32"),
        "wall_time_s": args.wall_time_s or (
            results["wall_time_s_this_session"] if results["epochs_this_session"] == results["epochs"] else ""
        ),
    }
    table = ROOT / "results" / "results.csv"
    existing = list(csv.DictReader(open(table, newline=""))) if table.exists() else []
    existing = [r for r in existing if r["run"] != name] + [row]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=TABLE_FIELDS)
    writer.writeheader()
    writer.writerows(existing)
    write_text_atomically(table, text.getvalue())

    if args.ship_weights:
        model = keras.models.load_model(args.run_dir / "last.keras")
        plain = create_model(results["model"])
        if count_parameters(plain) != count_parameters(model):
            raise SystemExit("The run's model is not the plain variant; only plain variants ship weights.")
        # Through a plain, uncompiled float32 model: a compiled one would also save the optimizer's state.
        plain.set_weights(model.get_weights())
        images = np.random.default_rng(0).integers(0, 256, size=(8, 32, 32, 3)).astype("float32")
        if np.abs(plain.predict(images, verbose=0) - model.predict(images, verbose=0)).max() > 0.1:
            raise SystemExit("The plain model's predictions differ from the run's model: not shipping.")
        weights_path = ASSETS / f"{results['model']}_cifar10.weights.h5"
        with atomic_path(weights_path) as temporary:
            plain.save_weights(temporary)
        info = {
            "model": results["model"],
            "test_accuracy": results["test_accuracy"],
            "test_images": results["test_images"],
            "epochs": results["epochs"],
            "recipe": config,
            "data": args.data,
            "trained_on": results["device"],
            "machine": args.machine or results["device"],
            "precision": results.get("precision", "float32"),
            "run": f"results/{name}",
            "history": {key: [round(value, 4) for value in values] for key, values in history.items()},
        }
        info_path = ASSETS / f"{results['model']}_cifar10.json"
        write_json_atomically(info_path, info)
        record(weights_path, info_path)  # loading checks them against these digests
        print(f"shipped {weights_path} ({weights_path.stat().st_size / 1e6:.2f} MB)")
    print(f"wrote {out} and {table}")


if __name__ == "__main__":
    main()
