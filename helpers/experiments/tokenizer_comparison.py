"""Notebook 07's tokenizer comparison: cct_2_3x2 with its convolutional tokenizer and with the
involution tokenizer (`helpers.layers.involution.InvolutionTokenizer`), the same recipe, epochs and data,
three seeds each.

The budget fits a CPU: EPOCHS epochs of the `fast` recipe on the first TRAIN_IMAGES training
images; every epoch is scored on the 5,000 held-out training images (`helpers.data.hold_out_validation`),
and the test split is read once, after training. Nothing is chosen on the way: the involution's
settings are the official RedNet ones (16 channels per group, reduction 4), fixed beforehand.
The involution runs train with XLA (`jit_compile=True`: about 3x faster on a TensorFlow CPU), the
convolutional ones as `train()` does by default (without XLA on a TensorFlow CPU, where it is faster).

    python -m helpers.experiments.tokenizer_comparison run --seeds 0 1 2      # resumable run folders
    python -m helpers.experiments.tokenizer_comparison ship                   # records into the package

`ship` copies each run's config, history and results to results/tokenizer_comparison/, bundles
them into helpers/assets/tokenizer_comparison.json, which notebook 07 reads (an installed
package has no results/ folder), and ships the seed-0 weights of both tokenizers.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from helpers import ASSETS
from helpers.runtime.assets import record, verified
from helpers.runtime.run_folder import read_history_columns

MODEL = "cct_2_3x2"
TOKENIZERS = ("conv", "involution")
SEEDS = (0, 1, 2)
EPOCHS, TRAIN_IMAGES = 6, 10_000
JIT_COMPILE = {"conv": "auto", "involution": True}
RESULTS = Path(__file__).resolve().parents[2] / "results" / "tokenizer_comparison"
BUNDLE = ASSETS / "tokenizer_comparison.json"
RECORD_FILES = ("config.json", "history.csv", "results.json")


def run_name(tokenizer, seed):
    return f"{tokenizer}_seed{seed}"


def weights_path(tokenizer, folder=ASSETS):
    """The shipped seed-0 weights of `MODEL` with `tokenizer`."""
    return Path(folder) / f"{MODEL}_{tokenizer}_tokenizer.weights.h5"


def comparison_data(data, train_images=TRAIN_IMAGES, validation_images=None):
    """((train, validation), test) from `data` = (train split, test split): the first
    `train_images` of the training images left after holding out the validation images."""
    from helpers.data import VALIDATION_IMAGES, hold_out_validation

    (x_train, y_train), validation = hold_out_validation(data[0], validation_images or VALIDATION_IMAGES)
    return ((x_train[:train_images], y_train[:train_images]), validation), data[1]


def run_all(data, out, tokenizers=TOKENIZERS, seeds=SEEDS, epochs=EPOCHS, batch_size=None, verbose=2):
    """Train every (tokenizer, seed) into out/NAME (resumable); returns {name: TrainingRun}."""
    from helpers.train import train

    splits, test = data
    runs = {}
    for tokenizer in tokenizers:
        for seed in seeds:
            runs[run_name(tokenizer, seed)] = train(
                MODEL, splits, test=test, recipe="fast", epochs=epochs, batch_size=batch_size, seed=seed,
                out=Path(out) / run_name(tokenizer, seed), verbose=verbose, jit_compile=JIT_COMPILE[tokenizer],
                tokenizer=tokenizer,
            )
    return runs


def ship(runs_dir, results=RESULTS, bundle=BUNDLE, weights_folder=ASSETS):
    """Copy the finished runs' records to `results`, bundle them into the package and ship the
    seed-0 weights of each tokenizer."""
    import keras

    from helpers.models import create_model
    from helpers.runtime.atomic_files import atomic_path, write_text_atomically

    entries = run_records(runs_dir)
    for entry in entries:
        kept = Path(results) / entry["name"]
        kept.mkdir(parents=True, exist_ok=True)
        for name in RECORD_FILES:
            write_text_atomically(kept / name, (Path(runs_dir) / entry["name"] / name).read_text())
        if entry["name"].endswith("_seed0"):
            tokenizer = entry["config"]["model_overrides"]["tokenizer"]
            plain = create_model(MODEL, tokenizer=tokenizer)  # uncompiled: no optimizer state in the file
            plain.set_weights(keras.models.load_model(Path(runs_dir) / entry["name"] / "last.keras").get_weights())
            with atomic_path(weights_path(tokenizer, weights_folder)) as temporary:
                plain.save_weights(temporary)
            record(weights_path(tokenizer, weights_folder))
    write_text_atomically(Path(bundle), json.dumps(entries, indent=1) + "\n")
    record(Path(bundle))
    print(f"shipped {len(entries)} runs: {Path(bundle)}")


def run_records(runs_dir):
    """The finished runs in `runs_dir`, as `ship` bundles them: [{name, config, results, history}]."""
    entries = []
    for folder in sorted(Path(runs_dir).glob("*_seed*")):
        if not (folder / "results.json").is_file():
            print(f"skipped {folder}: not finished")
            continue
        entries.append({
            "name": folder.name, "config": json.loads((folder / "config.json").read_text()),
            "results": json.loads((folder / "results.json").read_text()), "history": read_history_columns(folder),
        })
    return entries


def read_runs(bundle=None):
    """The shipped runs (or `bundle`, a list as `ship` writes it and `run_records` returns): dicts with tokenizer, seed,
    validation and test accuracy, training images per second and history, by tokenizer and seed."""
    entries = json.loads(verified(BUNDLE).read_text()) if bundle is None else bundle
    runs = []
    for entry in entries:
        results = entry["results"]
        runs.append({
            "tokenizer": entry["config"]["model_overrides"]["tokenizer"], "seed": entry["config"]["seed"],
            "epochs": results["epochs_completed"], "train_images": results["train_images"],
            "validation_accuracy": results["validation_accuracy"], "test_accuracy": results["test_accuracy"],
            "train_images_per_s": results["train_images_per_s"], "jit_compile": results["jit_compile"],
            "device": results["device"], "precision": results["precision"],
            "history": {key: np.array(values) for key, values in entry["history"].items()},
        })
    return sorted(runs, key=lambda run: (TOKENIZERS.index(run["tokenizer"]), run["seed"]))


def summary(runs, key="test_accuracy"):
    """{tokenizer: (mean, sample standard deviation, seeds)} of `key`, and the difference of the
    means, involution minus convolution, with its standard error (the two groups independent)."""
    groups = {tokenizer: np.array([run[key] for run in runs if run["tokenizer"] == tokenizer]) for tokenizer in TOKENIZERS}
    table = {
        tokenizer: (float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else float("nan"), len(values))
        for tokenizer, values in groups.items() if len(values)
    }
    if len(table) < 2:
        return table, None
    (conv_mean, conv_sd, conv_n), (inv_mean, inv_sd, inv_n) = table["conv"], table["involution"]
    return table, (inv_mean - conv_mean, float(np.sqrt(conv_sd**2 / conv_n + inv_sd**2 / inv_n)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train_them = commands.add_parser("run", help="train the runs (resumable)")
    train_them.add_argument("--tokenizers", nargs="+", choices=TOKENIZERS, default=list(TOKENIZERS))
    train_them.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    train_them.add_argument("--runs-dir", type=Path, default=Path("runs") / "tokenizer_comparison")
    shipping = commands.add_parser("ship", help="copy the finished runs' records into results/ and the package")
    shipping.add_argument("--runs-dir", type=Path, default=Path("runs") / "tokenizer_comparison")
    arguments = parser.parse_args(argv)
    if arguments.command == "run":
        from helpers.data import load_cifar10

        run_all(comparison_data(load_cifar10()), arguments.runs_dir, arguments.tokenizers, arguments.seeds)
    else:
        ship(arguments.runs_dir)


if __name__ == "__main__":
    main()
