"""Relevance maps and deletion/insertion curves of notebook 07."""

import numpy as np
import pytest

from helpers import explanations
from helpers.attention_maps import TokenLayout, encoder_blocks
from helpers.data import load_cifar10_sample
from helpers.models import create_model


@pytest.fixture(scope="module")
def images():
    return load_cifar10_sample()[1][0][:6]


@pytest.fixture(scope="module", params=["vit_lite_2_4", "cct_2_3x2"])
def model(request):
    return create_model(request.param, weights="cifar10")


def zero_offsets(model, count):
    blocks = encoder_blocks(model)
    tokens = blocks[0].input.shape[1]
    return [np.zeros((count, block.num_heads, tokens, tokens), "float32") for block in blocks]


def test_written_out_blocks_give_the_models_logits(model, images):
    logits = np.asarray(explanations.logits_with_attention_offsets(model, images, zero_offsets(model, len(images))))
    np.testing.assert_allclose(logits, model.predict(images, verbose=0), atol=1e-4)


def test_attention_gradients_match_finite_differences(model, images):
    classes = np.arange(len(images)) % 10
    gradients = explanations.attention_gradients(model, images, classes)
    layer, head, query, key = len(gradients) - 1, 1, 3, 5
    step = 1e-2
    changed = []
    for sign in (1, -1):
        offsets = zero_offsets(model, len(images))
        offsets[layer][:, head, query, key] = sign * step
        logits = np.asarray(explanations.logits_with_attention_offsets(model, images, offsets), np.float64)
        changed.append(logits[np.arange(len(images)), classes])
    numeric = (changed[0] - changed[1]) / (2 * step)
    np.testing.assert_allclose(gradients[layer, :, head, query, key], numeric, rtol=0.05, atol=1e-3)


def test_gradient_rollout_by_hand():
    weights = np.array([[0.5, 0.5], [0.0, 1.0]])[None, None, None]  # 1 layer, image, head
    gradients = np.array([[2.0, -1.0], [1.0, 3.0]])[None, None, None]
    # (grad * A)^+ = [[1, 0], [0, 3]]; R = I + that @ I
    np.testing.assert_allclose(explanations.gradient_rollout(weights, gradients)[0], [[2.0, 0.0], [0.0, 4.0]])
    with pytest.raises(ValueError, match="pass two"):
        explanations.gradient_rollout(weights, gradients[..., :1])


def test_maps_cover_the_patch_tokens(model, images):
    maps = explanations.relevance_maps(model, images)
    seqpool = model.name.startswith("cct")
    assert list(maps) == ["rollout", "gradient rollout"] + (["seqpool"] if seqpool else []) + ["random"]
    for values in maps.values():
        assert values.shape == (len(images), 64) and np.all(np.isfinite(values))
    if seqpool:  # w^T R with rows of R summing to 1 keeps the SeqPool weights' total of 1
        np.testing.assert_allclose(maps["rollout"].sum(axis=1), 1.0, atol=1e-5)


def test_cell_masks_uncover_cells_in_the_given_order():
    layout = TokenLayout(skip=0, side=2, pixels=2)
    order = np.array([[3, 0, 2, 1]])
    masks = explanations.cell_masks(layout, 4, order, steps=2)
    assert masks.shape == (3, 1, 4, 4)
    assert not masks[0].any() and masks[2].all()
    expected = np.zeros((4, 4), bool)
    expected[2:, 2:] = expected[:2, :2] = True  # tokens 3 (bottom right) and 0 (top left)
    np.testing.assert_array_equal(masks[1, 0], expected)


def test_deletion_and_insertion_meet_at_their_ends(model, images):
    maps = explanations.relevance_maps(model, images)
    curves = explanations.deletion_insertion(model, images, maps["gradient rollout"], steps=4)
    logits = model.predict(images, verbose=0).astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    top = (probabilities / probabilities.sum(axis=1, keepdims=True)).max(axis=1)
    np.testing.assert_allclose(curves["deletion"][:, 0], top, atol=1e-5)  # nothing deleted yet
    np.testing.assert_allclose(curves["insertion"][:, -1], top, atol=1e-5)  # everything put back
    np.testing.assert_allclose(curves["deletion"][:, -1], curves["insertion"][:, 0], atol=1e-6)  # all mean colour
    with pytest.raises(ValueError, match=r"needs \(6, 64\)"):
        explanations.deletion_insertion(model, images, maps["random"][:, :10])


def test_area_under_a_curve():
    np.testing.assert_allclose(explanations.area_under([[1, 1, 1], [1, 0.5, 0]]), [1.0, 0.5])
