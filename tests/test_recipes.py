"""The recipes as data (`helpers.recipes`): the official one, the sweep's winner, the schedule."""

import csv
import json
from pathlib import Path

import pytest

import keras

from helpers.models import create_model
from helpers.recipes import RECIPES, get_recipe, learning_rate_schedule, make_optimizer

ROOT = Path(__file__).resolve().parents[1]


def test_paper_recipe_is_the_official_one():
    # configs/pretrained/cct_7-3x1_cifar10_300epochs.yml, run by timm's train.py
    paper = RECIPES["paper"]
    assert (paper.epochs, paper.cooldown_epochs, paper.batch_size) == (310, 10, 128)
    assert (paper.learning_rate, paper.weight_decay, paper.min_learning_rate) == (5.5e-4, 6e-2, 1e-5)
    assert (paper.warmup_epochs, paper.warmup_start_learning_rate, paper.label_smoothing) == (10, 1e-5, 0.1)
    assert (paper.augment, paper.random_erasing, paper.mix_off_epoch) == ("paper", 0.0, 175)


def short_budget_sweep():
    """scripts/short_budget_sweep.py, imported (scripts/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("short_budget_sweep", ROOT / "scripts" / "short_budget_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fast_recipe_is_the_sweep_winner_and_what_the_shipped_weights_trained_with():
    import dataclasses

    sweep = short_budget_sweep()
    RESULTS, recipe_of, winner = sweep.RESULTS, sweep.recipe_of, sweep.winner

    with open(RESULTS / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    best = winner(rows)
    assert best == "lr_2e-3" and len(rows) == 9
    # The winner's recorded run used exactly the recipe_of() its name gives today.
    recorded = json.loads((RESULTS / best / "config.json").read_text())
    fields = [field.name for field in dataclasses.fields(RECIPES["fast"]) if field.name not in ("name", "description")]
    assert {key: recorded[key] for key in fields} == {key: getattr(recipe_of(best), key) for key in fields}
    same = [key for key in fields if key != "epochs"]
    assert {key: getattr(RECIPES["fast"], key) for key in same} == {key: recorded[key] for key in same}
    assert RECIPES["fast"].epochs == recorded["epochs"] == 25
    for model in ("vit_lite_2_4", "cvt_2_4", "cct_2_3x2"):
        shipped = json.loads((ROOT / "helpers" / "assets" / f"{model}_cifar10.json").read_text())["recipe"]
        assert shipped["name"] == "fast" and {key: shipped[key] for key in same} == {key: recorded[key] for key in same}


def test_every_short_budget_try_is_a_valid_recipe_and_only_full_length_tries_can_win():
    sweep = short_budget_sweep()
    EPOCHS, TRIES, recipe_of, winner = sweep.EPOCHS, sweep.TRIES, sweep.recipe_of, sweep.winner

    assert {recipe_of(name).epochs for name in TRIES} == {20, EPOCHS, 30}
    rows = [{"try": "a", "epochs": str(EPOCHS), "validation_accuracy": "0.7"},
            {"try": "b", "epochs": "30", "validation_accuracy": "0.9"},
            {"try": "c", "epochs": str(EPOCHS), "validation_accuracy": "0.8"}]
    assert winner(rows) == "c"
    assert winner(rows[1:2]) is None


def test_mixing_stops_at_the_same_share_of_a_shorter_run():
    assert get_recipe("paper", epochs=130).mix_off_epoch == 70  # 175/300 of the 120 epochs before cool-down
    assert get_recipe("short").mix_off_epoch is None


def test_get_recipe_overrides_and_errors():
    assert get_recipe("short", epochs=7).epochs == 7
    with pytest.raises(ValueError, match="Unknown recipe 'long'. Valid recipes: paper, short, fast"):
        get_recipe("long")
    with pytest.raises(ValueError, match="no field"):
        get_recipe("paper", epoch=3)


def test_schedule_warms_up_decays_then_cools_down():
    schedule = learning_rate_schedule(get_recipe("paper"), steps_per_epoch=100)
    lr = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    assert lr(0) == pytest.approx(1e-5)
    assert lr(500) == pytest.approx((1e-5 + 5.5e-4) / 2, rel=1e-3)
    assert lr(1000) == pytest.approx(5.5e-4, rel=1e-4)
    assert lr(1000) > lr(15000) > lr(29999)
    assert lr(30000) == pytest.approx(1e-5, rel=1e-3)  # the cosine ends at epoch 300...
    assert lr(30999) == pytest.approx(1e-5, rel=1e-3)  # ...and the 10 cool-down epochs stay there


def test_short_runs_keep_a_tenth_for_warm_up_and_cool_down():
    recipe = get_recipe("paper", epochs=5)
    assert recipe.phase_steps(steps_per_epoch=100) == (50, 50)
    schedule = learning_rate_schedule(recipe, steps_per_epoch=100)
    assert float(keras.ops.convert_to_numpy(schedule(50))) == pytest.approx(5.5e-4, rel=1e-4)
    assert float(keras.ops.convert_to_numpy(schedule(450))) == pytest.approx(1e-5, rel=1e-3)


def test_no_weight_decay_on_biases_and_norms():
    model = create_model("cct_2_3x2")
    optimizer = make_optimizer(get_recipe("short"), steps_per_epoch=10)
    decayed = {v.path for v in model.trainable_weights if optimizer._use_weight_decay(v)}
    assert any(path.endswith("kernel") for path in decayed)
    assert any("position_embedding" in path for path in decayed)
    assert not any(path.endswith(("bias", "gamma", "beta")) for path in decayed)
