"""Model tests: backend-agnostic (run under TensorFlow and, via test_backends.py, JAX)."""

import numpy as np
import pytest

import keras

from helpers.data import load_cifar10_sample
from helpers.models import VARIANTS, count_parameters, create_model, list_models, pretrained_info, seqpool_weights

# The variants whose parameter counts the official tables give (helpers.published).
PUBLISHED = sorted(name for name, variant in VARIANTS.items() if variant.paper_params_m)


@pytest.mark.parametrize("name", PUBLISHED)
def test_parameter_count_matches_the_published_one(name):
    # The table counts CCT-6/3x1 without its position embedding (3.168M; 3.234M with it).
    overrides = {"positional_embedding": "none"} if name == "cct_6_3x1" else {}
    millions = VARIANTS[name].paper_params_m
    assert count_parameters(create_model(name, **overrides)) == pytest.approx(millions * 1e6, rel=0.005)


def test_every_paper_cifar_variant_has_a_published_count():
    assert len(PUBLISHED) == 10
    assert count_parameters(create_model("cct_6_3x1")) == pytest.approx(3.234e6, rel=0.005)


def test_list_models_names_follow_the_paper():
    names = list_models()
    for name in [*PUBLISHED, "cct_7_7x2", "vit_lite_2_4", "cvt_2_4"]:
        assert name in names
    details = list_models(details=True)
    assert "not in the paper" in details["vit_lite_2_4"]
    assert "7 layers" in details["cct_7_3x1"] and "1 conv layer of 3x3" in details["cct_7_3x1"]
    assert VARIANTS["cct_7_7x2"].image_size == 224


def test_unknown_model_name_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown model 'cct_7_3x3'.*cct_7_3x1"):
        create_model("cct_7_3x3")


def test_image_size_not_divisible_by_patch_size():
    with pytest.raises(ValueError, match="not divisible by the patch size 4"):
        create_model("vit_lite_2_4", image_size=30)


@pytest.mark.parametrize("name", ["vit_lite_2_4", "cvt_2_4", "cct_2_3x2", "resnet20"])
def test_models_take_raw_images_and_return_logits(name, images):
    model = create_model(name, num_classes=7)
    logits = keras.ops.convert_to_numpy(model.predict(images, verbose=0))
    assert logits.shape == (8, 7)
    assert np.all(np.isfinite(logits))


@pytest.mark.parametrize("bad_shape", [(2, 32, 32, 1), (2, 32, 32), (2, 28, 28, 3)])
def test_models_reject_wrongly_shaped_input(bad_shape):
    model = create_model("cct_2_3x2")
    with pytest.raises(ValueError, match=r"32, 32, 3|RGB: np.repeat"):
        model.predict(np.zeros(bad_shape, "float32"), verbose=0)


@pytest.mark.parametrize("name, tokens", [("cct_7_3x1", 256), ("cct_2_3x2", 64), ("cvt_7_4", 64), ("vit_lite_7_4", 65)])
def test_sequence_length(name, tokens):
    model = create_model(name)
    assert model.get_layer("position_embedding").output.shape[1] == tokens


@pytest.mark.parametrize("name", ["cct_2_3x2", "vit_lite_2_4", "resnet20"])
def test_keras_file_round_trip_gives_identical_predictions(name, images, tmp_path):
    model = create_model(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(images, verbose=0), loaded.predict(images, verbose=0))


def test_seqpool_weights_of_a_model(images):
    weights = seqpool_weights(create_model("cct_2_3x2"), images[:3])
    assert weights.shape == (3, 64)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)


SHIPPED = ["vit_lite_2_4", "cvt_2_4", "cct_2_3x2"]  # what the notebooks' CPU profile trains


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cifar10_weights_classify_real_images(name):
    info = pretrained_info(name)
    assert info["model"] == name and "JPEG" in info["data"] and info["machine"]  # the notebooks print it
    model = create_model(name, weights="cifar10")
    _, (x_test, y_test) = load_cifar10_sample()
    predictions = model.predict(x_test, batch_size=250, verbose=0).argmax(-1)
    accuracy = float(np.mean(predictions == y_test.ravel()))
    # The sample's 1000 test images are a subset of the test split the weights were scored on.
    assert accuracy == pytest.approx(info["test_accuracy"], abs=0.05)
    assert accuracy > 0.6  # an untrained model scores about 0.1
    # The fast path on real images: bfloat16 compute changes almost no prediction of a trained model.
    mixed = create_model(name, weights="cifar10", dtype="mixed_bfloat16")
    agreement = float(np.mean(mixed.predict(x_test, batch_size=250, verbose=0).argmax(-1) == predictions))
    assert agreement > 0.97


def test_weights_errors_name_the_fix(tmp_path):
    with pytest.raises(ValueError, match="shipped for 'cct_7_3x1'.*cct_2_3x2, cvt_2_4, vit_lite_2_4"):
        create_model("cct_7_3x1", weights="cifar10")
    with pytest.raises(ValueError, match=r"100 classes.*of another shape.*\(128, 10\) in the file, \(128, 100\) here"):
        create_model("cct_2_3x2", num_classes=100, weights="cifar10")
    with pytest.raises(FileNotFoundError, match="no such file"):
        create_model("cct_2_3x2", weights=tmp_path / "missing.weights.h5")


def test_mixed_precision_model_matches_float32(images, tmp_path):
    plain = create_model("cct_2_3x2")
    mixed = create_model("cct_2_3x2", dtype="mixed_bfloat16")
    mixed.set_weights(plain.get_weights())
    assert mixed.get_layer("encoder_0").qkv.compute_dtype == "bfloat16"
    assert mixed.get_layer("tokenizer").stages[0][1].compute_dtype == "bfloat16"
    assert {weight.dtype for weight in mixed.weights} == {"float32"}
    plain_logits, mixed_logits = plain.predict(images, verbose=0), mixed.predict(images, verbose=0)
    assert mixed_logits.dtype == np.float32
    # bfloat16 keeps 8 significant bits: agreement to a few percent of the logits' range.
    np.testing.assert_allclose(mixed_logits, plain_logits, atol=0.03 * np.abs(plain_logits).max())
    assert not np.array_equal(mixed_logits, plain_logits)  # it really computed in bfloat16
    np.testing.assert_allclose(seqpool_weights(mixed, images).sum(axis=1), 1.0, rtol=1e-5)
    path = tmp_path / "mixed.keras"
    mixed.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("encoder_1").mlp_hidden.compute_dtype == "bfloat16"
    np.testing.assert_array_equal(loaded.predict(images, verbose=0), mixed_logits)


def test_resnet20_has_the_parameters_of_he_et_al():
    # He et al. (2016), section 4.2: a 3x3 conv of 16 filters, then 3 stages of 3 basic blocks
    # (two 3x3 convolutions each, no bias) at 16/32/64 channels; BatchNorm's scale and shift
    # after every convolution; option-A shortcuts have no weights; a dense layer to 10 classes.
    stem = 3 * 3 * 3 * 16 + 2 * 16
    blocks = 0
    for channels_in, channels in ((16, 16), (16, 32), (32, 64)):
        first = 3 * 3 * channels_in * channels + 3 * 3 * channels * channels
        blocks += first + 2 * (2 * 3 * 3 * channels * channels) + 3 * 2 * (2 * channels)
    classifier = 64 * 10 + 10
    expected = stem + blocks + classifier
    assert expected == 269_722  # "0.27M" in He et al.'s Table 6
    model = create_model("resnet20")
    assert count_parameters(model) == expected
    # cct_2_3x2 is the transformer of about this size.
    assert count_parameters(model) == pytest.approx(count_parameters(create_model("cct_2_3x2")), rel=0.1)


def test_resnet20_is_listed_as_a_baseline_not_a_paper_variant():
    assert "resnet20" in list_models()
    assert VARIANTS["resnet20"].in_paper is False and VARIANTS["resnet20"].paper_params_m is None
    assert "resnet20" not in PUBLISHED
    assert list_models(details=True)["resnet20"].startswith("baseline, not a paper variant: ResNet-20")
    with pytest.raises(ValueError, match="takes only dtype, got stochastic_depth"):
        create_model("resnet20", stochastic_depth=0.0)


def test_resnet20_stages_halve_the_map_and_widen_it():
    model = create_model("resnet20")
    shapes = [model.get_layer(f"stage_{stage}_block_1").output.shape[1:] for stage in (1, 2, 3)]
    assert shapes == [(32, 32, 16), (16, 16, 32), (8, 8, 64)]


def test_basic_block_option_a_shortcut_subsamples_and_pads_with_zeros():
    from helpers.layers.resnet import BasicBlock

    block = BasicBlock(8, strides=2)
    x = np.random.default_rng(0).uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    block.build(x.shape)
    block.norm_2.gamma.assign(np.zeros(8, "float32"))  # the residual branch adds its shift beta = 0
    y = keras.ops.convert_to_numpy(block(x, training=False))
    assert y.shape == (2, 3, 3, 8)
    np.testing.assert_allclose(y[..., :4], x[:, ::2, ::2, :], rtol=1e-6)
    np.testing.assert_array_equal(y[..., 4:], 0.0)


def test_resnet20_trains_through_helpers_train():
    from helpers.runtime.device import set_seed
    from helpers.train import train

    (x_train, y_train), (x_test, y_test) = load_cifar10_sample()
    set_seed(0)
    start = keras.ops.convert_to_numpy(create_model("resnet20").get_layer("stem_conv").kernel)  # train's model, seed 0
    run = train("resnet20", ((x_train[:32], y_train[:32]), (x_test[:16], y_test[:16])), epochs=1, batch_size=16, seed=0, verbose=0)
    assert run.model.name == "resnet20" and np.isfinite(run.history["loss"][-1])
    assert 0 <= run.results["test_accuracy"] <= 1
    trained = keras.ops.convert_to_numpy(run.model.get_layer("stem_conv").kernel)
    assert trained.shape == start.shape and not np.allclose(trained, start)  # two optimizer steps moved it
    # BatchNorm's running statistics, which evaluation uses, left their start (mean 0).
    assert not np.allclose(keras.ops.convert_to_numpy(run.model.get_layer("stem_norm").moving_mean), 0.0)
