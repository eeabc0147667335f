import json

import numpy as np
import pytest

from helpers.experiments import recipe_ablation
from helpers.experiments.recipe_ablation import BUNDLE, RESULTS, bundle_records, read_runs, read_sweep, spread
from helpers.figures.recipe import label_title, plot_seed_runs, show_augmentation_rows
from helpers.recipes import get_recipe, learning_rate_schedule, learning_rates


@pytest.mark.parametrize("name, epochs, steps", [("short", 4, 10), ("paper", 20, 5)])
def test_learning_rates_are_the_schedules_at_every_step(name, epochs, steps):
    recipe = get_recipe(name, epochs=epochs)
    rates = learning_rates(recipe, steps)
    schedule = learning_rate_schedule(recipe, steps)
    assert rates.shape == (epochs * steps,)
    np.testing.assert_allclose(rates, [float(schedule(step)) for step in range(epochs * steps)], rtol=1e-5)
    warmup, cooldown = recipe.phase_steps(steps)
    assert rates[0] == pytest.approx(recipe.warmup_start_learning_rate)
    assert np.argmax(rates) == warmup and rates.max() == pytest.approx(recipe.learning_rate)
    assert np.all(np.diff(rates[: warmup + 1]) > 0) and np.all(np.diff(rates[warmup:]) <= 1e-12)
    assert (cooldown > 0) == (name == "paper")
    np.testing.assert_allclose(rates[len(rates) - cooldown :], recipe.min_learning_rate, rtol=1e-5)


def test_learning_rates_follow_the_batch_size():
    recipe = get_recipe("short", epochs=2, batch_size=512)
    assert learning_rates(recipe, 10).max() == pytest.approx(2 * recipe.learning_rate)


@pytest.mark.skipif(not (RESULTS / "short_budget").is_dir(), reason="needs the repository's results/ folder")
def test_the_shipped_bundle_holds_the_records_under_results():
    # The notebook reads the bundle: rerun `write_bundle()` whenever a record under results/ changes.
    assert json.loads(BUNDLE.read_text()) == bundle_records()


def test_the_sweep_as_the_notebook_reads_it():
    tries = read_sweep()
    assert len(tries) == 9
    accuracies = [entry["validation_accuracy"] for entry in tries]
    assert accuracies == sorted(accuracies, reverse=True)
    by_name = {entry["try"]: entry for entry in tries}
    assert by_name["lr_1e-3_no_smoothing"]["config"]["label_smoothing"] == 0.0
    assert by_name["lr_1e-3_paper_augment"]["config"]["augment"] == "paper"
    for entry in tries:  # the final accuracy is the last epoch's
        assert len(entry["history"]["val_accuracy"]) == entry["epochs"]
        assert entry["history"]["val_accuracy"][-1] == pytest.approx(entry["validation_accuracy"], abs=1e-4)


def test_the_seed_runs_as_the_notebook_reads_them():
    runs = read_runs()
    rates = {run["stochastic_depth"] for run in runs}
    assert rates == set(recipe_ablation.STOCHASTIC_DEPTHS)
    for rate in rates:
        seeds = [run["seed"] for run in runs if run["stochastic_depth"] == rate]
        assert len(seeds) >= 2 and len(set(seeds)) == len(seeds)
    for run in runs:
        assert run["steps"] == 200 and len(run["history"]["val_accuracy"]) == 4
        assert run["history"]["val_accuracy"][-1] == pytest.approx(run["validation_accuracy"], abs=1e-3)


def test_spread_is_the_mean_and_sample_standard_deviation():
    runs = [{"stochastic_depth": 0.0, "validation_accuracy": value} for value in (0.3, 0.4, 0.5)]
    runs.append({"stochastic_depth": 0.1, "validation_accuracy": 0.9})
    mean, std, count = spread(runs, 0.0)
    assert (mean, count) == (pytest.approx(0.4), 3) and std == pytest.approx(0.1)
    assert np.isnan(spread(runs, 0.1)[1])


def test_label_titles_show_the_mixed_classes():
    assert label_title(3) == "cat"
    assert label_title(np.eye(10)[3]) == "cat"
    mixed = 0.62 * np.eye(10)[3] + 0.38 * np.eye(10)[8]
    assert label_title(mixed) == "0.62 cat\n0.38 ship"


def test_augmentation_rows_draw_every_image_with_its_label():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3))
    mixed = 0.7 * np.eye(10)[[0, 1, 2]] + 0.3 * np.eye(10)[[2, 1, 0]]
    fig = show_augmentation_rows({"original": (images, [0, 1, 2]), "mixed": (images, mixed)})
    assert len(fig.axes) == 6
    assert [ax.get_xlabel() for ax in fig.axes] == ["airplane", "automobile", "bird", "0.70 airplane\n0.30 bird",
                                                     "automobile", "0.70 bird\n0.30 airplane"]


def test_notebook_05_quotes_the_seed_runs_it_ships():
    notebook = json.loads((RESULTS.parent / "notebooks" / "05_training_recipe.ipynb").read_text())
    text = "".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    runs = read_runs()
    for rate in recipe_ablation.STOCHASTIC_DEPTHS:
        mean, std, _ = spread(runs, rate)
        names = ", ".join(f"`{run['name']}`" for run in runs if run["stochastic_depth"] == rate)
        assert f"**{mean:.1%} ± {std:.1%}** (runs {names})" in text


def test_the_seed_figure_shows_every_run_as_its_own_dot():
    import matplotlib.pyplot as plt

    runs = read_runs()
    fig = plot_seed_runs(runs)
    finals = fig.axes[1]
    dots = np.concatenate([line.get_xydata() for line in finals.lines if line.get_marker() == "o"])
    plt.close(fig)
    assert len(dots) == len(runs)
    assert len({tuple(point) for point in dots.round(6)}) == len(runs)  # equal accuracies do not hide a seed
    np.testing.assert_allclose(sorted(dots[:, 1]), sorted(100 * run["validation_accuracy"] for run in runs))
