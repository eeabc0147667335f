import json
from pathlib import Path

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.experiments.data_efficiency import (
    FRACTIONS, PUBLISHED_CSV, SMALL_TRIO, balanced_subset, main, merge_rows, plot_data_efficiency, published_rows, read_rows,
    run_experiment,
)

RESULTS_CSV = Path(__file__).parents[2] / "results" / "data_efficiency" / "data_efficiency.csv"


def test_balanced_subset_takes_the_same_share_of_every_class():
    labels = np.repeat(np.arange(10), 100)
    subset = balanced_subset(labels, 0.25, seed=3)
    assert np.array_equal(np.bincount(labels[subset]), np.full(10, 25))
    assert np.array_equal(subset, np.unique(subset))
    assert not np.array_equal(subset, balanced_subset(labels, 0.25, seed=4))
    with pytest.raises(ValueError, match="fraction"):
        balanced_subset(labels, 0.0)


def test_runs_on_every_fraction_take_the_same_steps(tmp_path):
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    data = (x_train, y_train), (x_test[:64], y_test[:64])
    rows = run_experiment(
        data, tmp_path, models=["cct_2_3x2"], fractions=[0.01, 0.1], steps=4, evaluations=2, batch_size=16, verbose=0,
        min_epochs=0,
    )
    assert [(row["fraction"], row["train_images"]) for row in rows] == [(0.01, 40), (0.1, 400)]
    for folder in ("cct_2_3x2-001pct", "cct_2_3x2-010pct"):
        results = json.loads((tmp_path / folder / "results.json").read_text())
        assert results["epochs"] == 2 and results["steps_per_epoch"] == 2
    assert read_rows(tmp_path / "data_efficiency.csv")[1]["test_accuracy"] == rows[1]["test_accuracy"]
    figure = plot_data_efficiency(rows)
    assert figure.axes[0].get_xscale() == "log"


def test_the_published_experiment_holds_the_trio_and_the_cnn_on_every_fraction_with_equal_steps():
    rows = published_rows()
    models = list(dict.fromkeys(row["model"] for row in rows))
    assert models == [*SMALL_TRIO, "resnet20"]
    runs = sorted((row["model"], row["fraction"]) for row in rows)
    assert runs == sorted((model_name, fraction) for model_name in models for fraction in FRACTIONS)
    assert len({row["steps"] for row in rows}) == 1
    for row in rows:
        assert row["train_images"] == 10 * round(row["fraction"] * 5000)
        assert 0.1 < row["test_accuracy"] < 1


def row(model, fraction, accuracy):
    return {"model": model, "fraction": fraction, "train_images": round(fraction * 50000), "steps": 2000,
            "test_accuracy": accuracy, "train_accuracy_last_epoch": "0.5"}


def test_merge_keeps_the_other_models_rows_and_replaces_a_rerun():
    existing = [row("cvt_2_4", 0.05, 0.49), row("resnet20", 0.05, 0.1), row("cvt_2_4", 1.0, 0.52)]
    new = [row("resnet20", 1.0, 0.6), row("resnet20", 0.05, 0.55)]
    assert merge_rows(existing, new) == [existing[0], existing[2], *new]


def test_the_cnn_has_its_own_line_style_and_label():
    figure = plot_data_efficiency([row("cct_2_3x2", 0.05, 0.57), row("cct_2_3x2", 1.0, 0.64),
                                   row("resnet20", 0.05, 0.5), row("resnet20", 1.0, 0.6)])
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert set(lines) == {"cct_2_3x2", "ResNet-20 (CNN)"}
    assert lines["ResNet-20 (CNN)"].get_linestyle() == "--" and lines["cct_2_3x2"].get_linestyle() == "-"
    assert lines["ResNet-20 (CNN)"].get_marker() == "s"


def test_command_line_merges_one_models_runs_into_a_table(tmp_path):
    table = tmp_path / "table" / "data_efficiency.csv"
    table.parent.mkdir()
    published = PUBLISHED_CSV.read_text()
    trio = [line for line in published.splitlines()[1:] if not line.startswith("resnet20,")]
    table.write_text("\n".join(published.splitlines()[:1] + trio) + "\n")
    main(["--models", "resnet20", "--fractions", "0.1", "--steps", "2", "--evaluations", "1", "--batch-size", "16", "--min-epochs", "0",
          "--sample", "--out", str(tmp_path / "runs"), "--merge-into", str(table)])
    lines = table.read_text().splitlines()
    assert lines[1:-1] == [line + ",0" for line in trio]  # the other models' rows, as they were, now with their seed
    assert lines[-1].startswith("resnet20,0.1,400,2,")
    assert (tmp_path / "table" / "data_efficiency.png").stat().st_size > 0
    assert [row["model"] for row in read_rows(tmp_path / "runs" / "data_efficiency.csv")] == ["resnet20"]


def test_the_shipped_table_is_the_one_in_results():
    assert PUBLISHED_CSV.read_bytes() == RESULTS_CSV.read_bytes()


def test_a_model_missing_a_share_has_a_gap_there_not_a_line_across_it():
    rows = [{"model": "cct_2_3x2", "fraction": fraction, "steps": 8, "test_accuracy": 0.5} for fraction in (0.05, 0.5, 1.0)]
    rows += [{"model": "resnet20", "fraction": fraction, "steps": 8, "test_accuracy": 0.6} for fraction in (0.05, 1.0)]
    lines = {line.get_label(): line for line in plot_data_efficiency(rows).axes[0].get_lines()}
    assert list(lines["cct_2_3x2"].get_ydata()) == [50.0, 50.0, 50.0]
    cnn = lines["ResNet-20 (CNN)"].get_ydata()
    assert cnn[0] == cnn[2] == 60.0 and np.isnan(cnn[1])


def test_the_results_doc_table_is_the_published_one():
    """docs/results.md types the table; it must say what the shipped CSV says, to the hundredth of a point."""
    import re

    text = (Path(__file__).parents[2] / "docs" / "results.md").read_text()
    typed = {}
    for line in text.splitlines():
        match = re.match(r"\| `(\w+)` [^|]*\|((?: \**[\d.]+%\** \|){5})$", line)
        if match and match.group(1) in [*SMALL_TRIO, "resnet20"]:
            typed[match.group(1)] = [float(value.strip(" *%")) for value in match.group(2).split("|")[:-1]]
    published = {}
    for row in published_rows():
        published.setdefault(row["model"], []).append(round(100 * row["test_accuracy"], 2))
    assert typed == published


def test_every_run_trains_at_least_twenty_epochs_of_its_share():
    from helpers.experiments.data_efficiency import MIN_EPOCHS_OF_SHARE, least_steps

    assert MIN_EPOCHS_OF_SHARE == 20
    assert least_steps(50_000, FRACTIONS, 128, evaluations=4) == 7800  # 20 epochs of 390 full batches
    assert least_steps(50_000, (0.05, 0.1), 128, evaluations=4) == 780  # 20 of the 10% share's 39
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    with pytest.raises(ValueError, match=r"steps=1000 trains fewer than 20 epochs of the largest share: pass at least 1240"):
        run_experiment(((x_train, y_train), (x_test, y_test)), "unused", steps=1000, batch_size=64, verbose=0)


def test_each_seed_draws_its_own_share_and_has_its_own_run_and_row(tmp_path):
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    data = (x_train[:400], y_train[:400]), (x_test[:32], y_test[:32])
    rows = run_experiment(data, tmp_path, models=["cct_2_3x2"], fractions=[0.5], evaluations=1, batch_size=32,
                          seeds=(0, 1), min_epochs=1, verbose=0)
    assert [(row["seed"], row["steps"]) for row in rows] == [(0, 6), (1, 6)]  # one epoch of 200 images in batches of 32
    assert (tmp_path / "cct_2_3x2-050pct" / "results.json").exists() and (tmp_path / "cct_2_3x2-050pct-seed1" / "results.json").exists()
    assert [row["seed"] for row in read_rows(tmp_path / "data_efficiency.csv")] == [0, 1]
    figure = plot_data_efficiency(rows + [{**rows[0], "fraction": 1.0}])
    assert len(figure.axes[0].containers) == 1  # one model: one line with error bars over its seeds
