import numpy as np
import pytest

from helpers.figures.plotting import plot_confusion_matrix, plot_history, plot_seqpool_weights, show_images, show_patches

HISTORY = {"loss": [2.0, 1.5, 1.2], "accuracy": [0.2, 0.4, 0.5], "val_loss": [1.9, 1.6, 1.4], "val_accuracy": [0.25, 0.4, 0.45]}


def test_plot_history_one_and_several_runs(tmp_path):
    fig = plot_history(HISTORY)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    csv_path = tmp_path / "history.csv"
    csv_path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.1,2.3,0.1,2.2\n1,0.2,2.1,0.2,2.0\n")
    fig = plot_history({"a": HISTORY, "b": csv_path})
    assert [len(ax.lines) for ax in fig.axes] == [4, 4]
    np.testing.assert_allclose(fig.axes[0].lines[2].get_ydata(), [2.3, 2.1])


def test_image_plots():
    images = np.random.default_rng(0).integers(0, 256, size=(6, 32, 32, 3))
    labels = np.arange(6).reshape(-1, 1)
    assert len(show_images(images, labels, predictions=np.arange(6)[::-1]).axes) == 8
    assert len(show_patches(images[0], 8).axes) == 1 + 16  # the image with its grid, then the patches apart
    assert len(plot_seqpool_weights(images, np.full((6, 64), 1 / 64), labels).axes) == 13  # 12 panels and a colour bar
    with pytest.raises(ValueError, match="square grid"):
        plot_seqpool_weights(images, np.full((6, 65), 1 / 65))


def test_titles_mark_wrong_predictions_red():
    images = np.zeros((2, 32, 32, 3))
    fig = plot_seqpool_weights(images, np.full((2, 64), 1 / 64), labels=[[0], [1]], predictions=[0, 2],
                               class_names=("cat", "dog", "frog"))
    titles = [fig.axes[i].title for i in (0, 1)]  # the top row: the images
    assert [t.get_text() for t in titles] == ["cat → cat", "dog → frog"]
    assert [t.get_color() for t in titles] == ["green", "red"]
    fig = show_images(images, [[0], [1]], predictions=[0, 2], class_names=("cat", "dog", "frog"), columns=2, rows=1)
    assert [(ax.title.get_text(), ax.title.get_color()) for ax in fig.axes] == [("cat\n→ cat", "green"), ("dog\n→ frog", "red")]


def test_confusion_matrix_rows_are_rates():
    fig = plot_confusion_matrix([0, 0, 1, 1], [0, 1, 1, 1], class_names=("a", "b"))
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.5, 0.5], [0.0, 1.0]])


def test_seqpool_maps_share_one_scale_with_a_colour_bar():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3))
    weights = np.full((3, 64), 1 / 64)
    weights[1, 0], weights[1, 1:] = 0.5, 0.5 / 63  # image 1: one token with 32 times the uniform weight
    fig = plot_seqpool_weights(images, weights)
    maps = [fig.axes[3 + i].images[-1] for i in range(3)]  # the bottom row: the weights over each image
    assert [m.get_clim() for m in maps] == [(0, 32.0)] * 3  # one colour scale, weight x tokens
    np.testing.assert_allclose(maps[0].get_array(), np.ones((8, 8)))  # 1 = uniform
    assert all(m.get_alpha() < 1 and len(ax.images) == 2 for m, ax in zip(maps, fig.axes[3:6]))  # over the image
    assert len(fig.axes) == 7 and fig.axes[-1].get_ylabel() == "weight x tokens"  # one colour bar
    assert fig.axes[4].get_title() == "max 32.0x uniform"
    fig = plot_seqpool_weights(images, weights, vmax=9.0)
    assert fig.axes[3].images[-1].get_clim() == (0, 9.0)
