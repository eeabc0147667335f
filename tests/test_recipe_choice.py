"""recipe="auto": the epochs a run trains choose its recipe (`helpers.recipes.recipe_for_epochs`),
in `train()`, under a time budget, on resume, on the command line and in the notebooks' profiles."""

import json

import pytest

import helpers.train
from helpers.data import load_cifar10_sample
from helpers.notebook import notebook_settings
from helpers.recipes import PAPER_RECIPE_FROM_EPOCHS, RECIPES, SHORT_BUDGET_RECIPE, recipe_for_epochs
from helpers.runtime.run_folder import RunFolderError
from helpers.train import plan_training, train


@pytest.fixture(scope="module")
def sample():
    (x, y), (xt, yt) = load_cifar10_sample()
    return (x[:256], y[:256]), (xt[:64], yt[:64])


def test_the_short_budget_recipe_below_the_threshold_the_papers_from_it():
    assert SHORT_BUDGET_RECIPE == "fast" and RECIPES[SHORT_BUDGET_RECIPE].epochs < PAPER_RECIPE_FROM_EPOCHS
    assert recipe_for_epochs(12)[0] == recipe_for_epochs(PAPER_RECIPE_FROM_EPOCHS - 1)[0] == "fast"
    assert recipe_for_epochs(PAPER_RECIPE_FROM_EPOCHS)[0] == recipe_for_epochs(310)[0] == "paper"
    assert "fewer than the 100 epochs" in recipe_for_epochs(12)[1]
    for bad in (0, 2.5, "12", None):
        with pytest.raises(ValueError, match="epochs must be a whole number"):
            recipe_for_epochs(bad)


@pytest.mark.parametrize("epochs, name", [(None, "fast"), (12, "fast"), (99, "fast"), (100, "paper"), (150, "paper")])
def test_train_chooses_by_the_epochs_asked_for(sample, epochs, name):
    plan, _ = plan_training("cct_2_3x2", sample, epochs=epochs, batch_size=64)
    assert plan.recipe.name == name and plan.recipe.batch_size == 64
    assert plan.recipe.epochs == (epochs or RECIPES["fast"].epochs)
    assert plan.recipe_choice == recipe_for_epochs(plan.recipe.epochs)[1] and not plan.budget_chooses_recipe


def test_a_recipe_asked_for_by_name_is_kept(sample):
    plan, _ = plan_training("cct_2_3x2", sample, recipe="short", epochs=150)
    assert plan.recipe.name == "short" and plan.recipe_choice is None


@pytest.mark.parametrize(
    "fast_fits, paper_fits, chosen",
    [(40, None, ("fast", 40)), (150, 120, ("paper", 120)), (150, 80, ("fast", 150))],
)
def test_a_budget_chooses_once_it_has_measured_the_epochs_that_fit(sample, monkeypatch, fast_fits, paper_fits, chosen):
    measured = []

    def epochs_in_budget(model, recipe, *args):
        measured.append(recipe.name)
        return {"fast": fast_fits, "paper": paper_fits}[recipe.name]

    monkeypatch.setattr(helpers.train, "epochs_in_budget", epochs_in_budget)
    monkeypatch.setattr(helpers.train, "_training_data", lambda *args: None)
    plan, data = plan_training("cct_2_3x2", sample, minutes=30, batch_size=64)
    assert plan.budget_chooses_recipe and plan.recipe.epochs == RECIPES["paper"].epochs  # the most a budget trains
    settled = helpers.train._settle_epochs(plan, None, data, _NoStrategy(), None, False, 0.0)
    assert (settled.recipe.name, settled.recipe.epochs) == chosen and settled.recipe.batch_size == 64
    assert measured == (["fast"] if paper_fits is None else ["fast", "paper"])  # the paper's measured only when it may win
    assert f"30-minute budget fits {chosen[1]}" in settled.recipe_choice and not settled.budget_chooses_recipe


def test_a_budgeted_run_resumes_with_the_recipe_it_chose(sample, tmp_path):
    plan, _ = plan_training("cct_2_3x2", sample, minutes=30, batch_size=64)
    resumed = helpers.train._saved_budget_plan({"name": "paper", "epochs": 120}, plan, tmp_path)
    assert (resumed.recipe.name, resumed.recipe.epochs, resumed.recipe.batch_size) == ("paper", 120, 64)
    with pytest.raises(RunFolderError, match="recipe 'short', which recipe='auto' never chooses"):
        helpers.train._saved_budget_plan({"name": "short", "epochs": 20}, plan, tmp_path)


def test_a_run_prints_which_recipe_and_why_and_records_it(sample, tmp_path, capsys):
    run = train("cct_2_3x2", sample, epochs=1, batch_size=64, out=tmp_path / "run", verbose=2)
    printed = capsys.readouterr().out
    assert "recipe: fast, 1 epoch(s): fewer than the 100 epochs from which the paper's recipe is trained" in printed
    assert "assumed until a sweep" in printed
    assert run.results["recipe"] == "fast" and json.loads((tmp_path / "run" / "config.json").read_text())["name"] == "fast"


def test_the_command_line_and_the_notebook_budgets_default_to_auto(monkeypatch, capsys):
    help_text = _cli_help(capsys)
    assert "or auto: fast below 100 epochs" in " ".join(help_text.split())
    monkeypatch.setenv("CCT_SMOKE", "0")
    monkeypatch.delenv("CCT_PROFILE", raising=False)
    settings = notebook_settings(verbose=False)
    assert settings.profile == "cpu" and settings.recipe == "auto" and "auto (fast below 100 epochs" in settings.describe()
    assert notebook_settings(profile="paper", verbose=False).recipe == "paper"


def _cli_help(capsys):
    with pytest.raises(SystemExit):
        helpers.train.main(["--help"])
    return capsys.readouterr().out


class _NoStrategy:
    def scope(self):
        import contextlib

        return contextlib.nullcontext()


def test_auto_is_no_recipe_name_to_get():
    from helpers.recipes import get_recipe

    with pytest.raises(ValueError, match="Unknown recipe 'auto'"):
        get_recipe("auto")
