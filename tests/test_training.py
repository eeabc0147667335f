import csv
import json
from pathlib import Path

import numpy as np
import pytest

import keras

from helpers.data import load_cifar10_sample
from helpers.pipeline.host import make_datasets
from helpers.models import create_model
from helpers.runtime.run_folder import RunFolderError
from helpers.recipes import compile_model, get_recipe
from helpers.runtime.loop import resumable_fit
from helpers.train import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_data():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:512], y_train[:512]), (x_test[:128], y_test[:128])


def test_a_few_steps_lower_the_loss(small_data):
    (x_train, y_train), (x_test, y_test) = small_data
    keras.utils.set_random_seed(0)
    train_ds, _ = make_datasets(x_train[:128], y_train[:128], x_test, y_test, batch_size=32, augment=None, seed=0)
    model = compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=4, warmup_epochs=1), 4)
    before = model.evaluate(train_ds, verbose=0)[0]
    model.fit(train_ds, epochs=4, verbose=0)
    after = model.evaluate(train_ds, verbose=0)[0]
    assert after < before - 0.05


def test_fit_logs_every_epoch_to_csv(small_data, tmp_path):
    (x_train, y_train), (x_test, y_test) = small_data
    train_ds, test_ds = make_datasets(x_train[:128], y_train[:128], x_test[:64], y_test[:64], batch_size=64)
    model = compile_model(create_model("vit_lite_2_4"), get_recipe("short", epochs=2), 2)
    history = resumable_fit(model, train_ds, test_ds, epochs=2, run_dir=tmp_path, verbose=0)
    with open(tmp_path / "history.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert float(rows[1]["val_loss"]) == pytest.approx(history.history["val_loss"][1], rel=1e-5)


class PoisonAtEpoch(keras.callbacks.Callback):
    """Sets the classifier's bias to NaN when epoch `epoch` begins."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            bias = self.model.get_layer("classifier").bias
            bias.assign(np.full(bias.shape, np.nan, "float32"))


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_epoch(small_data, tmp_path):
    (x_train, y_train), (x_test, y_test) = small_data
    train_ds, test_ds = make_datasets(x_train[:128], y_train[:128], x_test[:64], y_test[:64], batch_size=64, augment=None)
    model = compile_model(create_model("cct_2_3x2"), get_recipe("short", epochs=3), 2)
    with pytest.raises(FloatingPointError, match=r"NaN or infinite.*keeps the 1 epoch\(s\) completed before it.*float32.*another out= folder"):
        resumable_fit(model, train_ds, test_ds, epochs=3, run_dir=tmp_path, verbose=0, callbacks=[PoisonAtEpoch(1)])
    with open(tmp_path / "history.csv") as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["0"]
    assert any((tmp_path / "backup").iterdir())  # BackupAndRestore's state of epoch 0, for resuming


def test_train_writes_a_run_folder(small_data, tmp_path):
    (x_train, y_train), (x_test, y_test) = small_data
    data = (x_train[:128], y_train[:128]), (x_test[:64], y_test[:64])
    run = train("cct_2_3x2", data, recipe="short", epochs=1, batch_size=64, out=tmp_path, verbose=0)
    assert {"config.json", "history.csv", "best.keras", "last.keras", "results.json"} <= {p.name for p in tmp_path.iterdir()}
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["parameters"] == 283723 and results["epochs"] == 1
    assert 0.0 <= results["test_accuracy"] <= 1.0
    assert run.results == results
    assert json.loads((tmp_path / "config.json").read_text())["batch_size"] == 64
    loaded = keras.models.load_model(tmp_path / "last.keras")
    np.testing.assert_allclose(loaded.predict(x_test[:4], verbose=0), run.model.predict(x_test[:4], verbose=0), rtol=1e-5)

    again = train("cct_2_3x2", data, recipe="short", epochs=1, batch_size=64, out=tmp_path, verbose=0)
    assert again.results == results and len(again.history["loss"]) == 1
    with pytest.raises(RunFolderError, match=r"differs from its config.json in epochs \(epochs: 1 there, 2 here\).*another out="):
        train("cct_2_3x2", data, recipe="short", epochs=2, batch_size=64, out=tmp_path, verbose=0)


def test_train_with_a_test_split_scores_epochs_on_validation_and_the_test_split_once(small_data, tmp_path):
    (x_train, y_train), (x_test, y_test) = small_data
    data = (x_train[:128], y_train[:128]), (x_train[448:], y_train[448:])  # 64 held-out training images
    run = train("cct_2_3x2", data, test=(x_test, y_test), recipe="short", epochs=1, batch_size=64, out=tmp_path, verbose=0)
    results = run.results
    assert results["jit_compile"] == "auto"
    assert (results["train_images"], results["validation_images"], results["test_images"]) == (128, 64, 128)
    assert results["validation_accuracy"] == pytest.approx(run.history["val_accuracy"][-1], abs=1e-6)
    predicted = run.model.predict(x_test, verbose=0).argmax(axis=-1)
    assert results["test_accuracy"] == pytest.approx(np.mean(predicted == y_test.ravel()), abs=1e-6)
    assert json.loads((tmp_path / "config.json").read_text())["data"]["validation_images"] == 64

    again = train("cct_2_3x2", data, test=(x_test, y_test), recipe="short", epochs=1, batch_size=64, out=tmp_path, verbose=0)
    assert again.results == results
    with pytest.raises(RunFolderError, match="data"):  # the same folder without the test split is another run
        train("cct_2_3x2", data, recipe="short", epochs=1, batch_size=64, out=tmp_path, verbose=0)
    with pytest.raises(ValueError, match=r"test must be \(images, labels\)"):
        train("cct_2_3x2", data, test=x_test, recipe="short", epochs=1, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        train("cct_2_3x2", data, jit_compile="yes", recipe="short", epochs=1, batch_size=64, verbose=0)
    with pytest.raises(ValueError, match="test images have shape"):
        train("cct_2_3x2", data, test=(x_test[:, :16, :16], y_test), recipe="short", epochs=1, batch_size=64, verbose=0)
