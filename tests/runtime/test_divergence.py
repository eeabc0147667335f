"""Training that diverges stops at the end of the epoch, saying so (helpers.runtime.loop.StopOnDivergence)."""

import math

import pytest

import keras

from helpers.data import load_cifar10_sample
from helpers.recipes import get_recipe
from helpers.runtime.loop import DIVERGED_LOSS_FACTOR, DivergedLoss, StopOnDivergence
from helpers.runtime.run_folder import read_history
from helpers.train import train


def watching(outputs):
    """A StopOnDivergence set on a model of `outputs` logits, as `fit` sets it."""
    images = keras.Input((4,))
    callback = StopOnDivergence()
    callback.set_model(keras.Model(images, keras.layers.Dense(outputs)(images)))
    callback.on_train_begin()
    return callback


@pytest.mark.parametrize("classes", [10, 100])
def test_a_loss_over_ten_times_chance_has_diverged(classes):
    limit = DIVERGED_LOSS_FACTOR * math.log(classes)  # 23.0 for 10 classes, 46.1 for 100
    callback = watching(classes)
    for healthy in (math.log(classes), 0.05, limit * 0.999):
        callback.on_epoch_end(0, {"loss": healthy, "accuracy": 0.1})
    callback.on_epoch_end(0, {"accuracy": 0.1})  # no loss logged: nothing to judge
    with pytest.raises(DivergedLoss, match=rf"epoch 3 is {limit * 2:.4g}, 2 times the most it may be, {limit:.1f} "):
        callback.on_epoch_end(2, {"loss": limit * 2})


def test_a_model_of_unknown_output_size_is_not_judged():
    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    callback = StopOnDivergence()
    callback.set_model(Subclassed())
    callback.on_train_begin()
    callback.on_epoch_end(0, {"loss": 1e9})


def test_a_diverging_run_stops_with_a_clear_error(tmp_path):
    """The highest learning rate the recipe checks accept, 1 (at batch 128, unscaled): the first
    epoch's loss averaged 71-80 over these 4 steps (seeds 0-2), over 3 times the limit of 23."""
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    data = (x_train[:512], y_train[:512]), (x_test[:64], y_test[:64])
    recipe = get_recipe("short", learning_rate=1.0, warmup_epochs=0, epochs=2, batch_size=128)
    with pytest.raises(
        FloatingPointError,
        match=r"Training stopped: the loss diverged: the mean training loss of epoch 1 is \d+\.?\d*, \d\.?\d* times the most "
        r"it may be, 23\.0 \(10 times ln\(10\) = 2\.303, [^)]*\)\. Lower the learning rate.*float32.*another out= folder",
    ):
        train("cct_2_3x2", data, recipe=recipe, out=tmp_path, verbose=0)
    assert read_history(tmp_path) == []  # the diverged epoch is not logged
