import json

import pytest

from helpers.experiments.benchmark import count_macs, main, matmul_peak_gflops
from helpers.models import create_model

# (paper's MACs without the attention products, ours with them), in GMACs per 32x32 image.
MACS = {"cct_7_3x1": (0.947, 1.182), "vit_lite_7_4": (0.239, 0.254), "cvt_7_4": (0.236, 0.250), "cct_2_3x2": (0.033, 0.035)}


@pytest.mark.parametrize("name", sorted(MACS))
def test_macs_match_the_paper(name):
    paper, with_attention = count_macs(create_model(name))
    assert paper / 1e9 == pytest.approx(MACS[name][0], rel=0.01)
    assert with_attention / 1e9 == pytest.approx(MACS[name][1], rel=0.01)


def test_command_line_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    main(["--models", "cct_2_3x2", "--smoke", "--json", str(out)])
    report = json.loads(out.read_text())
    assert report["smoke"] is True and "backend" in report["device"]
    (row,) = report["rows"]
    assert row["model"] == "cct_2_3x2" and row["parameters"] == 283723 and row["batch_size"] == 8
    assert row["train_images_per_s"] > 0 and row["inference_images_per_s"] > 0
    assert row["epoch_time_s"] == pytest.approx(50000 / row["train_images_per_s"], rel=0.01)
    assert row["share_of_matmul_peak"] == pytest.approx(row["gflops"] / matmul_peak_gflops("float32"), abs=0.002)
    assert row["xla"] is False  # Keras' "auto" on a TensorFlow CPU
    printed = capsys.readouterr().out
    assert printed.count("cct_2_3x2") >= 1 and "train img/s" in printed


def test_macs_of_the_cnn_baseline():
    # ResNet-20 on 32x32 images: every 3x3 convolution costs output pixels x 9 x in x out channels.
    stem = 32 * 32 * 9 * 3 * 16
    stage_1 = 6 * 32 * 32 * 9 * 16 * 16
    stage_2 = 16 * 16 * 9 * 16 * 32 + 5 * 16 * 16 * 9 * 32 * 32
    stage_3 = 8 * 8 * 9 * 32 * 64 + 5 * 8 * 8 * 9 * 64 * 64
    expected = stem + stage_1 + stage_2 + stage_3 + 64 * 10
    assert count_macs(create_model("resnet20")) == (expected, expected)  # no attention products
    assert expected / 1e9 == pytest.approx(0.041, abs=0.001)


def test_the_matmul_peak_is_measured_once_per_precision():
    peak = matmul_peak_gflops("float32", size=256, repeats=2)
    assert 0.1 < peak < 1e6  # GFLOP/s: any CPU or accelerator
    assert matmul_peak_gflops("float32", size=256, repeats=2) == peak  # measured once, then remembered
