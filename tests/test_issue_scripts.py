"""The scripts behind the results that teach: the 12-epoch sweep's rule and the equal-budget trio's
table (their logic, on made-up records: the training they run is `train()`'s, tested elsewhere)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_twelve_epoch_rule_takes_the_best_mean_of_both_seeds_only():
    sweep = script("twelve_epoch_sweep")
    row = lambda name, seed, accuracy, epochs=12: {"try": name, "seed": seed, "epochs": epochs, "validation_accuracy": accuracy}  # noqa: E731
    rows = [row("a", 0, 0.79), row("a", 1, 0.77), row("b", 0, 0.80), row("b", 1, 0.78), row("c", 0, 0.83), row("d", 0, 0.9, 25)]
    assert sweep.means(rows)["a"] == (pytest.approx(0.78), [0, 1])
    assert "d" not in sweep.means(rows)  # another number of epochs is no try of this sweep
    assert sweep.winner(rows) == "b"  # c has one seed only: no candidate yet
    assert sweep.winner(rows[4:]) is None


def test_every_twelve_epoch_try_is_a_valid_recipe_of_twelve_epochs():
    sweep = script("twelve_epoch_sweep")
    for name in sweep.TRIES:
        recipe = sweep.recipe_of(name)
        assert recipe.epochs == 12 and name in recipe.description
    assert sweep.recipe_of("batch_64").batch_size == 64


def test_the_trio_reports_mean_and_sample_spread_per_model(tmp_path):
    trio = script("equal_budget_trio")
    for model, seed, accuracy in (("cct_2_3x2", 0, 0.80), ("cct_2_3x2", 1, 0.82), ("cvt_2_4", 0, 0.7)):
        folder = tmp_path / f"{model}_seed{seed}"
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps({"model": model, "test_accuracy": accuracy}))
        (folder / "config.json").write_text(json.dumps({"seed": seed}))
        (folder / "history.csv").write_text("epoch,val_accuracy\n0,0.5\n1,0.6\n")
    table = trio.spread(trio.records(tmp_path))
    mean, deviation, seeds = table["cct_2_3x2"]
    assert mean == pytest.approx(0.81) and deviation == pytest.approx(0.0141421, rel=1e-4) and seeds == [0, 1]
    assert table["cvt_2_4"] == (0.7, None, [0]) and "vit_lite_2_4" not in table
    with pytest.raises(SystemExit, match="at least 20"):
        trio.run("cct_2_3x2", 0, 12, tmp_path)


def test_the_exercise_ranges_hold_out_training_images_and_summarize_each_configuration(tmp_path, monkeypatch):
    ranges = script("exercise_ranges")
    assert ranges.TRAIN_IMAGES + ranges.HELD_OUT <= 50_000  # the held-out images are never trained on
    from helpers.models import create_model

    for model, arguments, _ in ranges.CONFIGURATIONS.values():
        create_model(model, **{key: value for key, value in arguments.items() if key != "recipe"})
    monkeypatch.setattr(ranges, "RESULTS", tmp_path)
    for seed, accuracy in ((0, 0.4682), (1, 0.4292)):
        (tmp_path / f"cct_2_3x2_seed{seed}.json").write_text(json.dumps({"configuration": "cct_2_3x2", "held_out_accuracy": accuracy}))
    ranges.summarize()
    assert (tmp_path / "summary.csv").read_text().splitlines()[1] == "cct_2_3x2,2,42.92,46.82,44.87"
