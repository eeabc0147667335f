"""Every bad input a new user is likely to pass gets a clear error, raised before any work,
saying what was found and what to pass."""

import dataclasses

import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.pipeline.host import make_datasets
from helpers.models import create_model
from helpers.figures.plotting import plot_confusion_matrix, plot_seqpool_weights, show_images, show_patches
from helpers.runtime.device import choose_precision
from helpers.train import train
from helpers.recipes import compile_model, get_recipe


@pytest.fixture(scope="module")
def sample():
    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    return (x_train[:64], y_train[:64]), (x_test[:32], y_test[:32])


@pytest.fixture(scope="module")
def model():
    return create_model("cct_2_3x2", weights="cifar10")


SCALED = [
    (lambda x: x / 255.0, r"from 0 to 1: scaled to \[0, 1\] \(x / 255.\)\?.*raw pixels 0-255"),
    (lambda x: x / 127.5 - 1.0, r"from -1 to 1 \(scaled to \[-1, 1\]\?\).*raw pixels 0-255"),
    (lambda x: x * 4.0, r"from 0 to 1020.*raw pixels 0-255"),
]


@pytest.mark.parametrize("scale, message", SCALED)
def test_pixel_scale_is_checked_wherever_images_come_in(scale, message, sample, model, tmp_path):
    (x_train, y_train), (x_test, y_test) = sample
    bad = scale(x_train.astype("float32"))
    with pytest.raises(ValueError, match=message):
        make_datasets(bad, y_train, x_test, y_test)
    with pytest.raises(ValueError, match=message):
        train("cct_2_3x2", ((bad, y_train), (x_test, y_test)), epochs=1, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
    with pytest.raises(ValueError, match=message):
        show_images(bad[:4])
    with pytest.raises(ValueError, match=message):
        model.predict(bad[:4], verbose=0)
    with pytest.raises(ValueError, match=message):
        model(bad[:4])
    with pytest.raises(ValueError, match=message):
        model.fit(bad[:4], np.eye(10)[:4], verbose=0)  # checked before the model is even compiled


def test_raw_images_still_pass_and_all_black_ones_too(sample, model):
    (x_train, _), _ = sample
    assert model.predict(x_train[:4], verbose=0).shape == (4, 10)
    assert model.predict(np.zeros((1, 32, 32, 3), "uint8"), verbose=0).shape == (1, 10)
    show_images(np.zeros((2, 32, 32, 3)))


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((32, 32, 3)), r"one image without the batch axis.*images\[None\]"),
        (np.zeros((4, 32, 32)), r"grayscale.*np.repeat\(images\[\.\.\., None\], 3, axis=-1\)"),
        (np.zeros((4, 3, 32, 32)), r"channels first.*np.transpose"),
        (np.zeros((0, 32, 32, 3)), "empty batch"),
        (np.where(np.arange(4 * 32 * 32 * 3).reshape(4, 32, 32, 3) == 5, np.nan, 100.0), "1 NaN or infinite pixel values"),
        (np.array([["a"]]), "numeric array"),
    ],
)
def test_badly_shaped_or_broken_images_are_named(images, message, model):
    with pytest.raises(ValueError, match=message):
        model.predict(images, verbose=0)


def test_one_hot_labels_name_the_fix(sample):
    (x_train, y_train), (x_test, y_test) = sample
    with pytest.raises(ValueError, match=r"Labels have shape \(64, 10\): one-hot or scores\?.*np.argmax"):
        make_datasets(x_train, np.eye(10)[y_train.ravel()], x_test, y_test)


def test_nan_pixels_stop_make_datasets(sample):
    (x_train, y_train), (x_test, y_test) = sample
    x_train = x_train.astype("float32")
    x_train[3, 4, 5, 0] = np.nan
    with pytest.raises(ValueError, match=r"x_train holds 1 NaN or infinite pixel values \(in 1 image\(s\)\)"):
        make_datasets(x_train, y_train, x_test, y_test)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"epochs": 0}, "epochs must be a whole number from 1 to 10,000, got 0"),
        ({"epochs": -3}, "epochs must be a whole number from 1 to 10,000, got -3"),
        ({"epochs": 2.5}, "epochs must be a whole number from 1 to 10,000, got 2.5"),
        ({"batch_size": 0}, "batch_size must be a whole number from 1 to 65,536, got 0"),
        ({"image_size": 0}, "image_size=0, but the images are 32x32"),
        ({"num_classes": 1}, "num_classes must be a whole number from 2 to 100,000"),
        ({"steps_per_epoch": 0}, "steps_per_epoch must be a whole number from 1 to 1,000,000"),
        ({"seed": "zero"}, "seed must be a whole number"),
        ({"precision": "bf16"}, "precision must be one of auto, float32, mixed_bfloat16; got 'bf16'"),
        ({"model_name": "cct_2"}, "Unknown model 'cct_2'. Valid names: vit_lite_2_4"),
        ({"learning_rate": 1e-3}, r"learning_rate is a recipe setting.*get_recipe\('fast', learning_rate=...\)"),
        ({"num_layer": 3}, "unknown argument 'num_layer'.*num_layers"),
        ({"data": ((np.zeros((4, 32, 32, 3)), np.zeros(4, int)),)}, r"data must be \(\(x_train, y_train\), \(x_test, y_test\)\)"),
    ],
)
def test_bad_run_arguments_are_refused_before_any_work(arguments, message, sample, tmp_path):
    arguments = {"model_name": "cct_2_3x2", "data": sample, "epochs": 1, "out": tmp_path / "run", **arguments}
    with pytest.raises(ValueError, match=message):
        train(**arguments)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "field, value", [("cooldown_epochs", -1), ("random_erasing", 1.5), ("mix_until", 0.0), ("mix_until", 2)]
)
def test_the_paper_recipes_own_fields_are_checked(field, value):
    with pytest.raises(ValueError, match=field):
        get_recipe("paper", **{field: value})


@pytest.mark.parametrize("value", [0.0, -1e-3, float("nan"), float("inf")])
def test_a_learning_rate_must_be_a_positive_number(value):
    with pytest.raises(ValueError, match=rf"learning_rate must be a number in \(0, 1\], got {value}"):
        get_recipe("short", learning_rate=value)
    recipe = dataclasses.replace(get_recipe("short"), learning_rate=value)  # around get_recipe's check
    with pytest.raises(ValueError, match=r"learning_rate must be a number in \(0, 1\]"):
        compile_model(create_model("cct_2_3x2"), recipe, steps_per_epoch=10)


def test_home_in_out_numpy_integers_and_image_size_zero(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    run = train("cct_2_3x2", sample, epochs=np.int64(1), batch_size=np.int64(32), num_classes=np.int64(10), out="~/x", verbose=0)
    assert (tmp_path / "x" / "results.json").exists() and not (tmp_path / "~").exists()
    assert run.results["epochs"] == 1
    with pytest.raises(ValueError, match="image_size must be a whole number of pixels from 1 to 1,024, got 0"):
        create_model("cct_2_3x2", image_size=0)


def test_cct_precision_is_what_train_and_auto_mean(monkeypatch):
    monkeypatch.setenv("CCT_PRECISION", "mixed_bfloat16")
    assert choose_precision("auto") == choose_precision() == "mixed_bfloat16"
    assert choose_precision("float32") == "float32"  # an explicit argument still wins
    monkeypatch.setenv("CCT_PRECISION", "half")
    with pytest.raises(ValueError, match="got 'half' from the environment variable CCT_PRECISION"):
        choose_precision("auto")


@pytest.mark.parametrize(
    "variant, saved_from, message",
    [
        ("cct_2_3x2", ("cct_4_3x2", {}), r"22 weight\(s\) in the file that this model lacks, e.g. layers/transformer_encoder_2"),
        ("cct_6_3x1", ("cct_7_3x1", {}), r"11 weight\(s\) in the file that this model lacks, e.g. layers/transformer_encoder_6"),
        ("cct_4_3x2", ("cct_2_3x2", {}), r"22 weight\(s\) of this model missing from the file"),
        ("cct_2_3x2", ("cct_2_3x2", {"positional_embedding": "sine"}), "a fixed sine position table, this model a learned one"),
    ],
)
def test_weights_of_another_model_are_refused(variant, saved_from, message, tmp_path):
    name, overrides = saved_from
    path = tmp_path / "other.weights.h5"
    create_model(name, **overrides).save_weights(path)
    with pytest.raises(ValueError, match=rf"The weights in {path} do not fit this {variant}.*{message}"):
        create_model(variant, weights=path)


def test_shipped_weights_refuse_a_shallower_or_sine_model():
    with pytest.raises(ValueError, match=r"\(1 encoder layers, 10 classes\): 11 weight\(s\) in the file that this model lacks"):
        create_model("cct_2_3x2", weights="cifar10", num_layers=1)
    with pytest.raises(ValueError, match="learned position embedding, this model a fixed sine table"):
        create_model("cct_2_3x2", weights="cifar10", positional_embedding="sine")


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_truncated_weight_files_are_named(suffix, tmp_path):
    whole = tmp_path / f"whole{suffix}"
    model = create_model("cct_2_3x2")
    model.save_weights(whole) if suffix == ".weights.h5" else model.save(whole)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ValueError, match=rf"{cut} is not a readable Keras weights file.*truncated or corrupt"):
        create_model("cct_2_3x2", weights=cut)
    create_model("cct_2_3x2", weights=whole)


def test_plots_refuse_scores_where_class_indices_belong():
    images = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3))
    logits = np.random.default_rng(1).normal(size=(4, 10))
    with pytest.raises(ValueError, match=r"labels has shape \(4, 10\).*np.argmax\(labels, axis=-1\)"):
        show_images(images, logits)
    with pytest.raises(ValueError, match=r"predictions has shape \(4, 10\).*np.argmax"):
        show_images(images, [0, 1, 2, 3], predictions=logits)
    with pytest.raises(ValueError, match=r"predictions holds float64 values such as .*not class indices"):
        plot_seqpool_weights(images, np.full((4, 64), 1 / 64), predictions=logits[:, 0])
    with pytest.raises(ValueError, match=r"labels holds 1 class indices outside 0-9, e.g. \[12\]"):
        plot_confusion_matrix([0, 12], [0, 1])
    with pytest.raises(ValueError, match="2 labels but 3 predictions"):
        plot_confusion_matrix([0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match=r"image has pixel values from 0 to 1"):
        show_patches(images[0] / 255.0, 8)
    show_images(images, np.array([[1.0], [2.0], [3.0], [4.0]]), predictions=np.array([1, 2, 3, 5]))  # whole floats are indices


def test_pixels_a_rounding_error_outside_0_255_pass_and_a_real_excess_is_printed_in_full():
    from helpers.runtime.checks import check_pixel_values

    images = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    images[0, 0, 0, 0], images[1, 0, 0, 0] = 255.00002, -1e-5  # what Keras' RandAugment returns on JAX
    check_pixel_values(images)
    images[0, 0, 0, 0] = 255.25
    with pytest.raises(ValueError, match=r"pixel values from -9.99999975e-06 to 255.25; .*np.clip\(images, 0, 255\)"):
        check_pixel_values(images)
