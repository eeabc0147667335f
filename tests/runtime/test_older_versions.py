"""What version 0.2 wrote still works: its run folders resume or load, its .keras files load.

tests/data/v0.2/ was written by the code of commit 03fcd39 (version 0.2.0, float32, TensorFlow):
`train("cct_2_3x2", data, epochs=2, batch_size=64, out=..., seed=0, precision="float32",
num_layers=1, embed_dim=16, num_heads=2)` (its default recipe, "short") on the first 128 training and 64 test images of the
shipped sample. `finished_run` ran to its end (its best.keras left out, to keep the repository
small); `interrupted_run` was killed with SIGKILL after its first epoch's backup (its best.keras
and its run.lock, which names this machine, left out). `finished_run_logits.json` holds the
logits of finished_run/last.keras for the first 4 test images, computed by that code.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import keras

from helpers.data import load_cifar10_sample
from helpers.runtime.classifier import ImageClassifier
from helpers.runtime.run_folder import read_history
from helpers.train import train

V02 = Path(__file__).parents[1] / "data" / "v0.2"
TINY = dict(num_layers=1, embed_dim=16, num_heads=2)


@pytest.fixture(scope="module")
def data():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:128], y_train[:128]), (x_test[:64], y_test[:64])


def train_into(out, data, recipe="short"):  # 0.2's default recipe
    return train("cct_2_3x2", data, recipe=recipe, epochs=2, batch_size=64, out=out, seed=0, precision="float32", verbose=0, **TINY)


def test_the_call_that_wrote_a_0_2_run_now_chooses_another_recipe_and_says_how_to_resume(data, tmp_path):
    from helpers.runtime.run_folder import RunFolderError

    out = shutil.copytree(V02 / "interrupted_run", tmp_path / "run")
    with pytest.raises(RunFolderError, match=r"a run of the 'short' recipe, and recipe='auto' chose 'fast'.*Pass recipe='short'"):
        train_into(out, data, recipe="auto")
    assert len(read_history(out)) == 1  # untouched


def test_a_finished_run_of_0_2_loads_with_its_logits_and_is_not_trained_again(data, tmp_path, capsys):
    out = shutil.copytree(V02 / "finished_run", tmp_path / "run")
    saved_results = json.loads((out / "results.json").read_text())
    run = train_into(out, data)
    assert "already holds a finished run of 2 epochs: loading it, not training again" in capsys.readouterr().out
    assert isinstance(run.model, ImageClassifier)  # saved as "cct>CompactTransformer"
    assert run.results == saved_results
    logits = run.model.predict(data[1][0][:4], verbose=0)
    np.testing.assert_allclose(logits, json.loads((V02 / "finished_run_logits.json").read_text()), atol=1e-5)


def test_an_interrupted_run_of_0_2_resumes_from_its_backup(data, tmp_path, capsys):
    out = shutil.copytree(V02 / "interrupted_run", tmp_path / "run")
    first_epoch = read_history(out)
    run = train_into(out, data)
    assert "(1 epoch(s) done)" in capsys.readouterr().out
    rows = read_history(out)
    assert [row["epoch"] for row in rows] == ["0", "1"] and rows[0] == first_epoch[0]
    assert run.results["epochs_completed"] == 2 and run.results["epochs_this_session"] == 1
    assert not (out / "backup").exists() and (out / "results.json").exists()


def test_a_keras_file_of_0_2_loads_as_an_image_classifier_that_checks_its_input(data):
    model = keras.models.load_model(V02 / "finished_run" / "last.keras")
    assert isinstance(model, ImageClassifier)
    assert "ImageCheck" in [type(layer).__name__ for layer in model.layers]  # kept as the identity
    with pytest.raises(ValueError, match=r"scaled to \[0, 1\]"):
        model.predict(data[1][0][:4] / 255.0, verbose=0)
