import numpy as np
import pytest

from helpers.data import load_cifar10_sample
from helpers.layers import ConvTokenizer, PatchTokenizer
from helpers.models import create_model
from helpers.tokenizer_shifts import receptive_field, shifted_crops, token_shift_change, tokenizer_layers


def test_receptive_fields_read_from_the_tokenizers():
    assert receptive_field(tokenizer_layers(PatchTokenizer(patch_size=4, embed_dim=8))) == (4, 4)
    assert receptive_field(tokenizer_layers(ConvTokenizer(embed_dim=8, kernel_size=3, num_conv_layers=1))) == (5, 2)
    assert receptive_field(tokenizer_layers(ConvTokenizer(embed_dim=8, kernel_size=3, num_conv_layers=2))) == (13, 4)
    # kernel 7 convolves with stride 2: field 7, then the pool adds (3 - 1) * 2
    assert receptive_field(tokenizer_layers(ConvTokenizer(embed_dim=8, kernel_size=7, num_conv_layers=1))) == (11, 4)
    with pytest.raises(TypeError, match="PatchTokenizer or ConvTokenizer"):
        tokenizer_layers(object())


def test_shifted_crops_move_the_content_right():
    images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3))
    crops = shifted_crops(images, shifts=(1, 3))
    assert crops.shape == (3, 2, 32, 32, 3)
    np.testing.assert_array_equal(crops[0], images)
    np.testing.assert_array_equal(crops[2][:, :, 3:], images[:, :, :-3])
    np.testing.assert_array_equal(crops[1][:, :, 0], images[:, :, 1])  # reflected, not zeros
    with pytest.raises(ValueError, match="margin"):
        shifted_crops(images, shifts=(9,))


@pytest.mark.parametrize("name, stride", [("cvt_2_4", 4), ("cct_2_3x2", 4)])
def test_tokens_follow_shifts_by_the_stride_only(name, stride):
    images = load_cifar10_sample()[1][0][:4]
    changes = token_shift_change(create_model(name), images, shifts=(1, 2, stride))
    assert changes[stride] < 1e-5  # weight sharing: the tokens only moved by one place
    assert changes[1] > 0.05 and changes[2] > 0.05  # sub-stride shifts change the tokens themselves


def test_overlapping_fields_change_less_than_patches():
    images = load_cifar10_sample()[1][0][:8]
    patches = token_shift_change(create_model("cvt_2_4", weights="cifar10"), images, shifts=(1,))
    convolutions = token_shift_change(create_model("cct_2_3x2", weights="cifar10"), images, shifts=(1,))
    assert convolutions[1] < 0.6 * patches[1]
