"""The tokenizer comparison of notebook 07, end to end on a few images."""

import json

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.experiments import tokenizer_comparison
from helpers.models import create_model


def test_runs_ship_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(tokenizer_comparison, "record", lambda path: None)  # no entry in the package's manifest
    data = tokenizer_comparison.comparison_data(load_cifar10_sample(), train_images=128, validation_images=64)
    (train, validation), test = data
    assert (len(train[0]), len(validation[0]), len(test[0])) == (128, 64, 1000)
    tokenizer_comparison.run_all(data, tmp_path / "runs", seeds=(0,), epochs=1, batch_size=64, verbose=0)
    tokenizer_comparison.ship(tmp_path / "runs", tmp_path / "results", tmp_path / "bundle.json", tmp_path)
    runs = tokenizer_comparison.read_runs(json.loads((tmp_path / "bundle.json").read_text()))
    assert [(run["tokenizer"], run["seed"]) for run in runs] == [("conv", 0), ("involution", 0)]
    assert [run["jit_compile"] for run in runs] == ["auto", True]
    assert all(run["train_images"] == 128 and 0 <= run["test_accuracy"] <= 1 for run in runs)
    assert sorted(path.name for path in (tmp_path / "results").iterdir()) == ["conv_seed0", "involution_seed0"]
    table, difference = tokenizer_comparison.summary(runs)
    assert table["conv"][2] == 1 and np.isnan(difference[1])  # one seed: no spread
    images = test[0][:4]
    for tokenizer in ("conv", "involution"):  # the shipped weights load into the model they came from
        model = create_model("cct_2_3x2", tokenizer=tokenizer, weights=tokenizer_comparison.weights_path(tokenizer, tmp_path))
        assert model.predict(images, verbose=0).shape == (4, 10)


def test_summary_of_three_seeds():
    runs = [{"tokenizer": t, "test_accuracy": a} for t, a in
            [("conv", 0.5), ("conv", 0.52), ("conv", 0.54), ("involution", 0.46), ("involution", 0.48), ("involution", 0.5)]]
    table, (difference, error) = tokenizer_comparison.summary(runs)
    assert table["conv"] == pytest.approx((0.52, 0.02, 3))
    assert difference == pytest.approx(-0.04) and error == pytest.approx(np.sqrt(2 * 0.02**2 / 3))
