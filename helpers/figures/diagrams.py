"""Architecture diagrams drawn from a built model: every label and every shape is read from the
model's layers (their settings, their output shapes), so a model built otherwise draws otherwise.

    draw_architectures([create_model(n) for n in ("vit_lite_2_4", "cvt_2_4", "cct_2_3x2")])
    draw_encoder_block(create_model("cct_2_3x2"))
    draw_conv_tokenizer(create_model("cct_2_3x2"))

Each function returns its matplotlib Figure. Shapes are per image, without the batch axis.
Every box is a patch whose gid names its stage (`"<column>/tokenizer"`, `"<half>/qkv"`, ...),
which the tests use to find them.
"""

import numpy as np

import keras
import matplotlib.pyplot as plt
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

from helpers.layers import (
    ClassToken,
    ClassTokenReadout,
    ConvTokenizer,
    PatchTokenizer,
    PositionEmbedding,
    SeqPool,
    TransformerEncoder,
)
from helpers.models import count_parameters

# One colour per kind of stage, the same in every diagram.
COLORS = {
    "data": "#ffffff",
    "tokenizer": "#d6e6f5",
    "tokens": "#e6def3",
    "attention": "#d9eed9",
    "mlp": "#fbe5cc",
    "norm": "#ececec",
    "regularizer": "#f4f4f4",
    "head": "#f6d9dc",
}
HIGHLIGHT = "#ffe066"  # a stage that differs from the column to its left
EDGE = "#333333"
SHAPE_COLOR = "#1f4e79"
LINE = 0.2  # inches per line of text in a box
TITLE_SIZE = 10
DETAIL_SIZE = 9
SHAPE_SIZE = 9


def _canvas(width, height):
    """A figure whose one axes spans it, in inches: x to the right, y upwards."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def _box_height(title, detail):
    return 0.18 + LINE * (len(title.split("\n")) + (len(detail.split("\n")) if detail else 0))


def _box(ax, x, y, width, title, detail="", kind="data", height=None, highlight=False, dashed=False, gid=None):
    """A rounded box centred at (x, y): bold title lines, then detail lines, one Text per line
    so that the lines are evenly spaced whatever their font."""
    height = height or _box_height(title, detail)
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0,rounding_size=0.08",
        facecolor=HIGHLIGHT if highlight else COLORS[kind],
        edgecolor=EDGE,
        linewidth=2.0 if highlight else 1.0,
        linestyle=(0, (4, 2)) if dashed else "-",
        gid=gid,
        zorder=2,
    )
    ax.add_patch(patch)
    lines = [(line, True) for line in title.split("\n")] + [(line, False) for line in detail.split("\n") if detail]
    top = y + LINE * len(lines) / 2
    for i, (line, bold) in enumerate(lines):
        ax.text(
            x,
            top - LINE * (i + 0.5),
            line,
            ha="center",
            va="center",
            fontsize=TITLE_SIZE if bold else DETAIL_SIZE,
            fontweight="bold" if bold else "normal",
            fontstyle="italic" if dashed else "normal",
            color="#555555" if dashed else "black",
            zorder=3,
        )
    return patch


def _arrow(ax, start, end, label=None, side="right"):
    """An arrow from start to end; `label` (a shape) beside its middle: to the right of a
    vertical arrow, above a horizontal one."""
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops=dict(arrowstyle="-|>", color=EDGE, lw=1.2, shrinkA=0, shrinkB=0, mutation_scale=12),
        zorder=1,
    )
    if label:
        mid_x, mid_y = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        if start[0] == end[0]:
            offset = 0.1 if side == "right" else -0.1
            ax.text(mid_x + offset, mid_y, label, ha="left" if side == "right" else "right", va="center",
                    fontsize=SHAPE_SIZE, color=SHAPE_COLOR, zorder=3)
        else:
            ax.text(mid_x, mid_y + 0.09, label, ha="center", va="bottom", fontsize=SHAPE_SIZE, color=SHAPE_COLOR, zorder=3)


def _line(ax, points):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=EDGE, lw=1.2, solid_capstyle="butt", zorder=1)


def shape_text(shape):
    """A shape without its batch axis: (None, 64, 128) -> '64 × 128'."""
    return " × ".join(str(int(size)) for size in tuple(shape)[1:])


def _size(values):
    """A kernel, stride or pool size (a number or a tuple of equal numbers) as 'k×k'."""
    values = tuple(np.atleast_1d(values))
    return "×".join(str(int(v)) for v in (values if len(values) > 1 else values * 2))


def _number(value):
    """A setting as written: 1.0 -> '1', 0.1 -> '0.1'."""
    return f"{float(value):g}"


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _one_layer(model, kind):
    found = _layers(model, kind)
    return found[0] if found else None


# --------------------------------------------------------------------------- the three side by side


def _tokenizer_text(tokenizer):
    if isinstance(tokenizer, PatchTokenizer):
        p = tokenizer.patch_size
        fan_in, dim = tokenizer.projection.kernel.shape
        return "Patch tokenizer", f"{p}×{p} patches, each projected\nlinearly {fan_in} → {dim}"
    if isinstance(tokenizer, ConvTokenizer):
        n = tokenizer.num_conv_layers
        return (
            "Convolutional tokenizer",
            f"{n} × [conv {_size(tokenizer.kernel_size)}, ReLU,\n"
            f"max-pool {_size(tokenizer.pooling_kernel_size)} stride {tokenizer.pooling_stride}]",
        )
    raise ValueError(f"No diagram for the tokenizer {type(tokenizer).__name__}.")


def _stages(model):
    """[(stage, title, detail, kind, output shape or None when the stage is absent)] of a
    compact transformer, read from its layers, in the order data flows through them."""
    encoders = _layers(model, TransformerEncoder)
    tokenizer = _one_layer(model, (PatchTokenizer, ConvTokenizer))
    position = _one_layer(model, PositionEmbedding)
    readout = _one_layer(model, (ClassTokenReadout, SeqPool))
    class_token = _one_layer(model, ClassToken)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.LayerNormalization)]
    classifier = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    if not (encoders and tokenizer and position and readout and norms):
        raise ValueError(f"{model.name} is not a compact transformer of helpers.models: some of its stages are missing.")
    first = encoders[0]
    stages = [("image", "Image", "", "data", model.inputs[0].shape)]
    stages.append(("tokenizer", *_tokenizer_text(tokenizer), "tokenizer", tokenizer.output.shape))
    if class_token is None:
        stages.append(("class_token", "no class token", "", "tokens", None))
    else:
        stages.append(("class_token", "Class token", "prepended to the tokens", "tokens", class_token.output.shape))
    stages.append(("position", "Position embedding", f"{position.kind}, added", "tokens", position.output.shape))
    stages.append((
        "encoder",
        f"Transformer encoder × {len(encoders)}",
        f"{first.num_heads} heads, dim {first.embed_dim}, MLP ratio {_number(first.mlp_ratio)}",
        "attention",
        encoders[-1].output.shape,
    ))
    stages.append(("norm", "LayerNorm", "", "norm", norms[-1].output.shape))
    if isinstance(readout, SeqPool):
        stages.append(("pooling", "SeqPool", "attention-weighted mean\nof the tokens", "head", readout.output.shape))
    else:
        stages.append(("pooling", "Class-token readout", "the first token's output", "head", readout.output.shape))
    inputs, classes = classifier.kernel.shape
    stages.append(("classifier", "Linear classifier", f"{inputs} → {classes} classes", "head", classifier.output.shape))
    return stages


def draw_architectures(models, column_width=3.4):
    """Models side by side, one column each, the same stages on the same rows. A stage drawn
    otherwise than in the column to its left is filled yellow; the arrows carry each stage's
    output shape (per image); the trainable parameter count stands under each column."""
    models = list(models)
    if not models:
        raise ValueError("Pass at least one model.")
    columns = [_stages(model) for model in models]
    names = [stage[0] for stage in columns[0]]
    heights = [max(_box_height(column[row][1], column[row][2]) for column in columns) for row in range(len(names))]
    gap, box_width = 0.44, column_width - 0.75
    height = 0.55 + sum(heights) + gap * (len(names) - 1) + 0.95
    fig, ax = _canvas(column_width * len(models), height)
    for c, (model, stages) in enumerate(zip(models, columns)):
        x = column_width * (c + 0.5) - 0.3  # room on the right of the arrows for their shapes
        ax.text(x, height - 0.3, model.name, ha="center", va="center", fontsize=12, fontweight="bold")
        y = height - 0.55
        shape = None
        for row, (stage, title, detail, kind, out_shape) in enumerate(stages):
            top = y
            y -= heights[row] / 2
            differs = c > 0 and columns[c - 1][row][1:3] != (title, detail)
            _box(ax, x, y, box_width, title, detail, kind, height=heights[row], highlight=differs,
                 dashed=out_shape is None, gid=f"{c}/{stage}")
            if row:
                _arrow(ax, (x, top + gap), (x, top), shape_text(shape))
            shape = shape if out_shape is None else out_shape
            y -= heights[row] / 2 + gap
        parameters = count_parameters(model)
        ax.text(x, y + gap - 0.3, f"{parameters:,} trainable parameters", ha="center", va="center", fontsize=11)
    legend_y = 0.22
    ax.add_patch(Rectangle((0.25, legend_y - 0.09), 0.3, 0.18, facecolor=HIGHLIGHT, edgecolor=EDGE, lw=1.5))
    ax.text(0.65, legend_y, "differs from the column on its left;  on the arrows: the tensor shape per image",
            va="center", fontsize=DETAIL_SIZE)
    return fig


# --------------------------------------------------------------------------- the encoder block


def _block_and_input(block_or_model, sequence_length):
    """The block to draw, its input shape, and the drop-path rates of all its model's blocks."""
    if isinstance(block_or_model, TransformerEncoder):
        block, blocks = block_or_model, [block_or_model]
        try:
            shape = tuple(block.input.shape)
        except (AttributeError, ValueError):
            if sequence_length is None:
                raise ValueError("This block is in no model: pass sequence_length, the number of tokens it takes.")
            shape = (None, sequence_length, block.embed_dim)
    else:
        blocks = _layers(block_or_model, TransformerEncoder)
        if not blocks:
            raise ValueError(f"{block_or_model.name} has no TransformerEncoder block to draw.")
        block = blocks[0]
        shape = tuple(block.input.shape)
    if sequence_length is not None:
        shape = (None, sequence_length, block.embed_dim)
    return block, shape, [b.drop_path_rate for b in blocks]


def _drop_path_text(rates):
    if len(rates) == 1:
        return f"rate {_number(rates[0])}"
    return f"rate {_number(min(rates))} → {_number(max(rates))}\nover the {len(rates)} blocks"


def encoder_block_stages(block, input_shape):
    """The encoder block's stages in the order `TransformerEncoder.call` runs them, each with
    its output shape (per image), computed by the block's own sublayers:
    [(sublayer name or "add", title, detail, kind, shape)]. Dropouts of rate 0 are left out."""
    shape = tuple(input_shape)
    head_dim = block.embed_dim // block.num_heads
    qkv_shape = block.qkv.compute_output_shape(shape)
    weights = block.attention_weights(keras.ops.zeros((1,) + shape[1:]))
    hidden_shape = block.mlp_hidden.compute_output_shape(shape)
    out_shape = block.mlp_output.compute_output_shape(hidden_shape)
    attention = [
        ("pre_norm", "LayerNorm", "", "norm", block.pre_norm.compute_output_shape(shape)),
        ("qkv", "q, k, v projection", f"Dense {shape[-1]} → {qkv_shape[-1]}, no bias", "attention", qkv_shape),
        (
            "attention",
            f"softmax(q kᵀ / √{head_dim}) v",
            f"{block.num_heads} heads of {head_dim}, weights {shape_text(weights.shape)}"
            + (f"\ndropout {_number(block.attention_dropout)} on the weights" if block.attention_dropout else ""),
            "attention",
            shape,
        ),
        ("attention_projection", "Output projection", f"Dense {shape[-1]} → {shape[-1]}", "attention",
         block.attention_projection.compute_output_shape(shape)),
    ]
    if block.dropout:
        attention.append(("attention_dropout_layer", "Dropout", f"rate {_number(block.dropout)}", "regularizer", shape))
    mlp = [
        ("mlp_hidden", "Dense", f"{shape[-1]} → {hidden_shape[-1]}", "mlp", hidden_shape),
        ("mlp_activation", "GELU", "", "mlp", hidden_shape),
    ]
    if block.dropout:
        mlp.append(("mlp_hidden_dropout", "Dropout", f"rate {_number(block.dropout)}", "regularizer", hidden_shape))
    mlp.append(("mlp_output", "Dense", f"{hidden_shape[-1]} → {out_shape[-1]}", "mlp", out_shape))
    if block.dropout:
        mlp.append(("mlp_output_dropout", "Dropout", f"rate {_number(block.dropout)}", "regularizer", out_shape))
    return attention, mlp


def draw_encoder_block(block_or_model, sequence_length=None):
    """One transformer encoder block in the order its `call` runs: LayerNorm -> multi-head
    self-attention -> DropPath -> add the block's input; LayerNorm -> MLP -> DropPath -> add the
    normed tokens. Shapes per image on the arrows, all computed by the block's sublayers.

    Give a block (with `sequence_length` unless it sits in a model) or a model (its first
    block is drawn; the blocks differ only in their drop-path rate, shown for all of them)."""
    block, shape, rates = _block_and_input(block_or_model, sequence_length)
    attention, mlp = encoder_block_stages(block, shape)
    drop_path = ("drop_path", "DropPath", _drop_path_text(rates), "regularizer", shape)
    halves = [
        (attention + [drop_path], "Multi-head self-attention", {"qkv", "attention", "attention_projection"}),
        ([("norm", "LayerNorm", "", "norm", shape)] + mlp + [drop_path], "MLP", {name for name, *_ in mlp}),
    ]
    gap, box_width, add_radius, top_margin = 0.42, 2.7, 0.17, 0.85
    height = top_margin + 0.5 + max(
        sum(_box_height(title, detail) for _, title, detail, _, _ in stages) + gap * (len(stages) + 1) + 2 * add_radius
        for stages, _, _ in halves
    )
    width = 10.0
    fig, ax = _canvas(width, height)
    where = "" if isinstance(block_or_model, TransformerEncoder) else f" of {block_or_model.name} (× {len(rates)})"
    ax.text(width / 2, height - 0.3, f"Transformer encoder block{where}", ha="center", va="center", fontsize=12,
            fontweight="bold")
    centres = (2.85, 7.55)
    ends = [
        _draw_block_half(ax, h, half, x, height - top_margin, shape, gap, box_width, add_radius)
        for h, (half, x) in enumerate(zip(halves, centres))
    ]
    # The attention half's sum is the MLP half's input: through the gutter to the top of the right column.
    gutter = (centres[0] + centres[1]) / 2
    low = ends[0] - 0.25
    _line(ax, [(centres[0], ends[0]), (centres[0], low), (gutter, low), (gutter, height - top_margin),
               (centres[1], height - top_margin)])
    _arrow(ax, (centres[1], ends[1]), (centres[1], ends[1] - 0.3))
    ax.text(centres[1], ends[1] - 0.36, f"tokens out  {shape_text(shape)}", ha="center", va="top", fontsize=DETAIL_SIZE)
    return fig


def _draw_block_half(ax, h, half, x, top, shape, gap, box_width, add_radius):
    """One half of the encoder block (h = 0: attention, 1: MLP) in the column at `x`, from `top`
    down: its stages, the group frame, the sum and the residual line. Returns the bottom's y."""
    stages, group, members = half
    # The residual line runs on the outer side, the shapes and the group's name on the inner one.
    outer = -1 if h == 0 else 1
    y = top
    if h == 0:
        ax.text(x, y + 0.1, "tokens in", ha="center", va="bottom", fontsize=DETAIL_SIZE)
    previous_shape, group_top, group_bottom = shape, None, None
    for name, title, detail, kind, out_shape in stages:
        box_height = _box_height(title, detail)
        _arrow(ax, (x, y), (x, y - gap), shape_text(previous_shape), side="left" if h else "right")
        y -= gap
        if name in members:
            group_top = y if group_top is None else group_top
            group_bottom = y - box_height
        _box(ax, x, y - box_height / 2, box_width, title, detail, kind, gid=f"{h}/{name}")
        if (h, name) == (0, "pre_norm"):
            skip_top = y + gap / 2  # the residual leaves before the first LayerNorm...
        if (h, name) == (1, "norm"):
            skip_top = y - box_height - gap / 2  # ...and after the second
        y -= box_height
        previous_shape = out_shape
    _arrow(ax, (x, y), (x, y - gap), shape_text(previous_shape), side="left" if h else "right")
    add_y = y - gap - add_radius
    ax.add_patch(Circle((x, add_y), add_radius, facecolor="white", edgecolor=EDGE, lw=1.2, zorder=2, gid=f"{h}/add"))
    ax.text(x, add_y, "+", ha="center", va="center", fontsize=13, zorder=3)
    skip_x = x + outer * (box_width / 2 + 0.5)
    ax.add_patch(Circle((x, skip_top), 0.045, color=EDGE, zorder=3, gid=f"{h}/residual"))
    _line(ax, [(x, skip_top), (skip_x, skip_top), (skip_x, add_y)])
    _arrow(ax, (skip_x, add_y), (x + outer * add_radius, add_y))
    ax.text(skip_x, (skip_top + add_y) / 2, "residual", rotation=90, ha="center", va="center", fontsize=DETAIL_SIZE,
            color="#555555", bbox=dict(facecolor="white", edgecolor="none", pad=2), zorder=2)
    frame_x = x - box_width / 2 - 0.15
    ax.add_patch(FancyBboxPatch((frame_x, group_bottom - 0.07), box_width + 0.3, group_top - group_bottom + 0.14,
                                boxstyle="round,pad=0,rounding_size=0.12", facecolor="none", edgecolor="#777777",
                                linestyle=(0, (3, 3)), lw=1.0, zorder=1))
    ax.text(x - outer * (box_width / 2 + 0.32), (group_top + group_bottom) / 2, group, rotation=90, ha="center",
            va="center", fontsize=DETAIL_SIZE, color="#555555")
    return add_y - add_radius


# --------------------------------------------------------------------------- the tokenizer


def tokenizer_stages(model):
    """The tokenizer's stages with their real output shapes (per image), computed on a blank
    image: [(stage, title, detail, kind, shape)], one row per conv layer for a ConvTokenizer."""
    tokenizer = _one_layer(model, (PatchTokenizer, ConvTokenizer))
    if tokenizer is None:
        raise ValueError(f"{model.name} has no PatchTokenizer or ConvTokenizer.")
    image_shape = tuple(tokenizer.input.shape)
    blank = keras.ops.zeros((1,) + image_shape[1:])
    tokens = tokenizer.output.shape
    if isinstance(tokenizer, PatchTokenizer):
        p = tokenizer.patch_size
        patches = tokenizer.extract_patches(blank).shape
        return [[
            ("patches", "Cut into patches", f"{p}×{p}, no overlap, each\nflattened to {patches[-1]} numbers", "tokenizer", patches),
            ("projection", "Linear projection", f"Dense {patches[-1]} → {tokens[-1]}\n(= conv {p}×{p}, stride {p})",
             "tokenizer", tokens),
        ]]
    rows = []
    for i, (maps, (_, conv, _, _, pool)) in enumerate(zip(tokenizer.feature_maps(blank), tokenizer.stages)):
        rows.append([
            (f"conv_{i}", f"Conv {_size(conv.kernel_size)}",
             f"{conv.filters} filters, stride {_size(conv.strides)[0]},\npad {tokenizer.padding}, no bias",
             "tokenizer", maps["conv"].shape),
            (f"relu_{i}", "ReLU", "", "tokenizer", maps["relu"].shape),
            (f"pool_{i}", f"Max-pool {_size(pool.pool_size)}",
             f"stride {_size(pool.strides)[0]}, pad {tokenizer.pooling_padding}", "tokenizer", maps["pool"].shape),
        ])
    height, width, channels = rows[-1][-1][-1][1:]
    rows.append([("flatten", "Flatten", f"one token per pixel:\n{height}×{width} → {height * width} tokens",
                  "tokens", tokens)])
    return rows


def draw_conv_tokenizer(model):
    """The tokenizer of `model`, stage by stage, the shape (per image) after each on the arrows:
    for CCT's convolutional tokenizer one row per conv layer (conv, ReLU, max-pool), then the
    flattening into tokens; for a patch tokenizer the patches and their projection."""
    rows = tokenizer_stages(model)
    tokenizer = _one_layer(model, (PatchTokenizer, ConvTokenizer))
    widths = {"ReLU": 0.8}
    box_width, arrow, start = 2.0, 1.1, 0.85
    row_height = max(_box_height(title, detail) for row in rows for _, title, detail, _, _ in row)
    pitch = row_height + 0.75
    # Each row ends with an arrow; the last one with "tokens" after it.
    width = start + max(
        sum(arrow + widths.get(title, box_width) for _, title, _, _, _ in row) + arrow + (0.8 if r == len(rows) - 1 else 0.3)
        for r, row in enumerate(rows)
    )
    note = isinstance(tokenizer, ConvTokenizer)
    height = 0.65 + pitch * len(rows) - 0.45 + 0.35 * note
    fig, ax = _canvas(width, height)
    ax.text(width / 2, height - 0.3, f"{type(tokenizer).__name__} of {model.name}", ha="center", va="center",
            fontsize=12, fontweight="bold")
    ax.text(start - 0.1, height - 0.65 - row_height / 2 - 0.1, "image", ha="right", va="center", fontsize=TITLE_SIZE,
            fontweight="bold")
    shape, previous_end = tokenizer.input.shape, None
    for r, row in enumerate(rows):
        y = height - 0.65 - row_height / 2 - pitch * r - 0.1
        x = start
        if r:
            # The row above ends on the right; its output comes back to the start of this row.
            back_y = y + pitch / 2
            _line(ax, [previous_end, (previous_end[0], back_y), (x, back_y), (x, y)])
        for name, title, detail, kind, out_shape in row:
            box_width_here = widths.get(title, box_width)
            _arrow(ax, (x, y), (x + arrow, y), shape_text(shape))
            x += arrow
            _box(ax, x + box_width_here / 2, y, box_width_here, title, detail, kind, height=row_height, gid=name)
            x += box_width_here
            shape = out_shape
        if r < len(rows) - 1:
            _line(ax, [(x, y), (x + arrow, y)])  # its shape is written where it enters the next row
        else:
            _arrow(ax, (x, y), (x + arrow, y), shape_text(shape))
            ax.text(x + arrow + 0.1, y, "tokens", ha="left", va="center", fontsize=TITLE_SIZE, fontweight="bold")
        previous_end = (x + arrow, y)
    if note:
        ax.text(width / 2, 0.22, "ConvTokenizer.call applies the ReLU after the max-pool: the same tokens, as ReLU "
                "is monotonic, from a quarter of the values", ha="center", va="center", fontsize=8, color="#555555")
    return fig
