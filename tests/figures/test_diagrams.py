import errno
import itertools

import numpy as np
import pytest

import keras
import matplotlib
import matplotlib.pyplot as plt
from matplotlib.text import Text
from PIL import Image

from helpers.runtime.atomic_files import WriteRefusedError
from helpers.figures.diagrams import (
    HIGHLIGHT,
    SHAPE_COLOR,
    draw_architectures,
    draw_conv_tokenizer,
    draw_encoder_block,
)
from helpers.layers import LayerNorm, StochasticDepth
from helpers.models import create_model
from helpers.figures.plotting import save_figure


@pytest.fixture(scope="module")
def trio():
    return [create_model(name) for name in ("vit_lite_2_4", "cvt_2_4", "cct_2_3x2")]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig):
    return [t for t in fig.findobj(Text) if t.get_text()]


def shapes_drawn(fig):
    """The shape labels, top to bottom then left to right (the order data flows in a column or a row)."""
    labels = [t for t in texts(fig) if matplotlib.colors.same_color(t.get_color(), SHAPE_COLOR)]
    return [t.get_text() for t in sorted(labels, key=lambda t: (-round(t.get_position()[1], 1), t.get_position()[0]))]


def boxes(fig):
    return {patch.get_gid(): patch for patch in fig.axes[0].patches if patch.get_gid()}


def test_labels_follow_the_configuration():
    fig = draw_architectures([create_model("cct_2_3x2", num_layers=3, num_heads=4, embed_dim=64, mlp_ratio=2.0)])
    words = " | ".join(t.get_text() for t in texts(fig))
    assert "Transformer encoder × 3" in words and "4 heads, dim 64, MLP ratio 2" in words
    assert "× 2" not in words and "128" not in words
    fig = draw_architectures([create_model("cct_2_3x2", num_conv_layers=1, kernel_size=7, positional_embedding="sine")])
    words = " | ".join(t.get_text() for t in texts(fig))
    assert "1 × [conv 7×7, ReLU," in words and "sine, added" in words

    block_words = " | ".join(t.get_text() for t in texts(draw_encoder_block(create_model("cvt_2_4", num_heads=8))))
    assert "8 heads of 16, weights 8 × 64 × 64" in block_words and "√16" in block_words
    assert "rate 0 → 0.1" in block_words and "over the 2 blocks" in block_words


def test_architecture_shapes_are_the_models(trio):
    vit, cvt, cct = (draw_architectures([model]) for model in trio)
    assert shapes_drawn(vit) == ["32 × 32 × 3", "64 × 128", "65 × 128", "65 × 128", "65 × 128", "65 × 128", "128"]
    # No class token: the tokenizer's 64 tokens pass that row unchanged.
    assert shapes_drawn(cvt) == ["32 × 32 × 3", "64 × 128", "64 × 128", "64 × 128", "64 × 128", "64 × 128", "128"]
    assert shapes_drawn(cct) == shapes_drawn(cvt)
    bigger = create_model("cct_2_3x2", image_size=64)
    assert shapes_drawn(draw_architectures([bigger]))[:2] == ["64 × 64 × 3", "256 × 128"]
    params = [t.get_text() for t in texts(draw_architectures(trio)) if "parameters" in t.get_text()]
    assert params == [f"{sum(int(np.prod(w.shape)) for w in m.trainable_weights):,} trainable parameters" for m in trio]


def test_highlighted_stages_are_the_ones_that_differ(trio):
    fig = draw_architectures(trio)
    highlighted = {gid for gid, patch in boxes(fig).items() if matplotlib.colors.same_color(patch.get_facecolor(), HIGHLIGHT)}
    assert highlighted == {"1/class_token", "1/pooling", "2/tokenizer"}
    fig = draw_architectures([trio[2], create_model("cct_2_3x2", positional_embedding="sine")])
    highlighted = {gid for gid, patch in boxes(fig).items() if matplotlib.colors.same_color(patch.get_facecolor(), HIGHLIGHT)}
    assert highlighted == {"1/position"}


def test_encoder_block_is_drawn_in_the_order_call_runs(monkeypatch):
    """Every sublayer the block calls, in the order it calls them, is a box in that order."""
    model = create_model("cct_2_3x2", dropout=0.1)  # so that every dropout is drawn too
    block = model.get_layer("encoder_0")
    drawn = [gid.split("/")[1] for gid in boxes(draw_encoder_block(model))]  # before recording: drawing runs qkv
    mine = {getattr(block, name): name for name in vars(block) if isinstance(getattr(block, name), keras.layers.Layer)}
    assert {LayerNorm, StochasticDepth} <= {type(layer) for layer in mine}
    called = []
    for cls in {type(layer) for layer in mine}:
        def recording(self, *args, _call=cls.call, **kwargs):
            if self in mine:
                called.append(mine[self])
            return _call(self, *args, **kwargs)
        monkeypatch.setattr(cls, "call", recording)
    block(np.zeros((1, 64, 128), "float32"))
    assert [name for name in drawn if name in mine.values()] == called
    assert drawn.count("add") == 2 and drawn.index("add") == drawn.index("drop_path") + 1


def test_encoder_residuals_leave_before_the_first_norm_and_after_the_second():
    drawn = boxes(draw_encoder_block(create_model("cct_2_3x2")))
    def top(gid):
        return drawn[gid].get_bbox().y1
    def bottom(gid):
        return drawn[gid].get_bbox().y0
    assert drawn["0/residual"].center[1] > top("0/pre_norm")
    assert bottom("1/norm") > drawn["1/residual"].center[1] > top("1/mlp_hidden")


def test_encoder_block_shapes():
    shapes = shapes_drawn(draw_encoder_block(create_model("cct_2_3x2", mlp_ratio=2.0)))
    assert sorted(set(shapes)) == ["64 × 128", "64 × 256", "64 × 384"]
    no_block = keras.Sequential([keras.Input((10, 32)), keras.layers.Identity()], name="no_block")
    with pytest.raises(ValueError, match="no_block has no TransformerEncoder"):
        draw_encoder_block(no_block)


def test_tokenizer_shapes_are_the_models():
    model = create_model("cct_2_3x2")
    assert shapes_drawn(draw_conv_tokenizer(model)) == [
        "32 × 32 × 3", "32 × 32 × 64", "32 × 32 × 64",  # conv 1, ReLU: 64 filters, same size
        "16 × 16 × 64", "16 × 16 × 128", "16 × 16 × 128",  # pooled, conv 2 with 128 = the embedding dim
        "8 × 8 × 128", "64 × 128",  # pooled again, then one token per pixel
    ]
    maps = model.get_layer("tokenizer").feature_maps(np.zeros((1, 32, 32, 3), "float32"))
    assert maps[-1]["pool"].shape[1:] == (8, 8, 128)
    assert shapes_drawn(draw_conv_tokenizer(create_model("cct_7_3x1", num_layers=2)))[-2:] == ["16 × 16 × 256", "256 × 256"]
    assert shapes_drawn(draw_conv_tokenizer(create_model("vit_lite_2_4", patch_size=8))) == ["32 × 32 × 3", "16 × 192", "16 × 128"]


@pytest.mark.parametrize("draw", ["architectures", "encoder", "tokenizer"])
def test_no_text_overlaps_another_or_crosses_a_box(trio, draw):
    fig = {
        "architectures": lambda: draw_architectures(trio),
        "encoder": lambda: draw_encoder_block(trio[0]),
        "tokenizer": lambda: draw_conv_tokenizer(trio[2]),
    }[draw]()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    extents = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(fig)]
    for (a, box_a), (b, box_b) in itertools.combinations(extents, 2):
        assert not box_a.overlaps(box_b), f"{a!r} overlaps {b!r}"
    figure_box = fig.bbox
    for patch in fig.axes[0].patches:
        area = patch.get_window_extent(renderer)
        for text, box in extents:
            inside = area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1
            assert inside or not area.overlaps(box), f"{text!r} crosses the edge of a box"
            assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1 and figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1


def test_save_figure_writes_a_white_png_at_the_dpi(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 1))
    fig.patch.set_alpha(0.0)  # transparent on screen; the file must still be white
    ax.axis("off")
    ax.text(0.5, 0.5, "x")
    path = save_figure(fig, tmp_path / "slides" / "figure.png", dpi=150)
    assert path == tmp_path / "slides" / "figure.png"
    with Image.open(path) as image:
        np.testing.assert_allclose(image.info["dpi"], (150, 150), atol=0.05)  # PNG keeps whole pixels per metre
        pixels, width = np.asarray(image.convert("RGBA")), image.width
    with Image.open(save_figure(fig, tmp_path / "sharper.png", dpi=300)) as image:
        assert abs(image.width - 2 * width) <= 2
    assert (pixels[..., 3] == 255).all()
    assert tuple(pixels[0, 0]) == (255, 255, 255, 255)
    assert sorted(p.name for p in path.parent.iterdir()) == ["figure.png"]
    assert fig.patch.get_alpha() == 0.0  # the figure itself is left as it was
    assert save_figure(fig, tmp_path / "figure.svg").read_text().lstrip().startswith("<?xml")
    assert save_figure(fig, tmp_path / "figure.PDF").read_bytes().startswith(b"%PDF")


def test_save_figure_refuses_a_bad_suffix_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    fig = plt.figure(figsize=(1, 1))
    for name in ("figure.jpg", "figure"):
        with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
            save_figure(fig, tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    path = save_figure(fig, tmp_path / "figure.png")
    before = path.read_bytes()

    def fails_halfway(target, **kwargs):
        open(target, "wb").write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fig, "savefig", fails_halfway)
    with pytest.raises(WriteRefusedError, match=r"Could not write figure.png .*\(the disk is full\)\. Its previous figure.png is kept"):
        save_figure(fig, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]
