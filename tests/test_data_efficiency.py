import json

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.data_efficiency import (
    FRACTIONS, SMALL_TRIO, balanced_subset, plot_data_efficiency, published_rows, read_rows, run_experiment,
)


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
        data, tmp_path, models=["cct_2_3x2"], fractions=[0.01, 0.1], steps=4, evaluations=2, batch_size=16, verbose=0
    )
    assert [(row["fraction"], row["train_images"]) for row in rows] == [(0.01, 40), (0.1, 400)]
    for folder in ("cct_2_3x2-001pct", "cct_2_3x2-010pct"):
        results = json.loads((tmp_path / folder / "results.json").read_text())
        assert results["epochs"] == 2 and results["steps_per_epoch"] == 2
    assert read_rows(tmp_path / "data_efficiency.csv")[1]["test_accuracy"] == rows[1]["test_accuracy"]
    figure = plot_data_efficiency(rows)
    assert figure.axes[0].get_xscale() == "log"


def test_the_published_experiment_holds_the_trio_on_every_fraction_with_equal_steps():
    rows = published_rows()
    assert sorted((row["model"], row["fraction"]) for row in rows) == sorted(
        (model_name, fraction) for model_name in SMALL_TRIO for fraction in FRACTIONS
    )
    assert len({row["steps"] for row in rows}) == 1
    for row in rows:
        assert row["train_images"] == 10 * round(row["fraction"] * 5000)
        assert 0.1 < row["test_accuracy"] < 1
