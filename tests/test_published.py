"""The published numbers live in one table (helpers.published); docs/results.md prints it, and the
README, the other docs and the notebooks read them from there instead of typing them."""

import json
import re
from pathlib import Path

import pytest

from helpers.models import VARIANTS
from helpers.published import (
    BASELINE_RESULTS,
    DATASETS,
    PUBLISHED_RESULTS,
    SOURCES,
    comparable,
    display_name,
    markdown_table,
    published_result,
    published_results,
    baseline_result,
    published_table,
    published_parameters,
)

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
RESULTS_DOC = ROOT / "docs" / "results.md"
PACKAGE_DOC = ROOT / "docs" / "package.md"
TABLE_START, TABLE_END = "<!-- paper-results:start -->", "<!-- paper-results:end -->"
# Numbers once quoted as "the paper's" without a source that has them.
UNSOURCED = ("89.75",)


def typed_numbers(text):
    """Every published top-1 or baseline top-1 or error (or unsourced number) written out in `text`."""
    wanted = {f"{row.top1:.2f}" for row in PUBLISHED_RESULTS + BASELINE_RESULTS} | set(UNSOURCED)
    wanted |= {f"{100 - row.top1:.2f}" for row in BASELINE_RESULTS}
    return sorted(wanted & set(re.findall(r"(?<![\d.])\d{1,2}\.\d{2}", text)))


def test_every_row_is_complete_and_unique():
    keys = set()
    for row in PUBLISHED_RESULTS:
        assert row.model in VARIANTS and row.dataset in DATASETS and row.source in SOURCES
        assert 0 < row.top1 < 100 and row.epochs > 0
        assert row.positional_embedding in ("learnable", "sinusoidal", "none")
        keys.add((row.model, row.dataset, row.epochs))
    assert len(keys) == len(PUBLISHED_RESULTS)


def test_rows_carry_their_epochs():
    assert published_result("cct_7_3x1", 300).top1 == 96.53
    assert published_result("cvt_7_4", 200).top1 == 92.43 and published_result("vit_lite_7_4", 200).top1 == 91.38
    assert published_result("cct_2_3x2", 200).top1 == 89.17
    assert not comparable(published_result("cct_7_3x1", 300), published_result("cvt_7_4", 200))
    assert comparable(published_result("cct_7_3x1", 200), published_result("cvt_7_4", 200))
    with pytest.raises(ValueError, match="at 300 epochs; there are: 200 epochs"):
        published_result("cct_2_3x2", 300)
    assert {row.epochs for row in published_results("cct_7_3x1")} == {200, 300, 1500, 5000}
    assert "300 epochs" in published_result("cct_7_3x1", 300).describe()


def test_names_and_counts():
    assert [display_name(m) for m in ("vit_lite_7_4", "cvt_7_4", "cct_7_3x1")] == ["ViT-Lite-7/4", "CVT-7/4", "CCT-7/3x1"]
    assert published_parameters("cct_6_3x1") == 3.168 and published_parameters("vit_lite_2_4") is None
    table = repr(published_table(["cct_2_3x2"]))
    assert "89.17%" in table and "| 200 |" in table
    with pytest.raises(ValueError, match="No published result"):
        published_table(["vit_lite_2_4"])


def test_a_cnn_baseline_is_quoted_with_its_budget_and_stays_out_of_the_cct_tables():
    resnet = baseline_result("resnet20")
    assert resnet.display_name == "ResNet-20" and resnet.epochs == 164 and resnet.top1 == pytest.approx(91.25)
    assert "He et al. 2016" in resnet.describe() and "position embedding" not in resnet.describe()
    assert all(row.model != "resnet20" for row in published_results())
    with pytest.raises(ValueError, match="No published CIFAR-10 baseline for 'resnet56'; there are: resnet20"):
        baseline_result("resnet56")


def test_the_results_doc_shows_the_table_and_types_no_published_number():
    text = RESULTS_DOC.read_text()
    assert TABLE_START in text and TABLE_END in text
    before, rest = text.split(TABLE_START)
    shown, after = rest.split(TABLE_END)
    assert shown.strip() == markdown_table(published_results()), "regenerate with: python -m helpers.published"
    assert typed_numbers(before + after) == []


@pytest.mark.parametrize("page", [README, *sorted((ROOT / "docs").rglob("*.md"))], ids=lambda p: p.name)
def test_no_page_but_the_printed_table_types_a_published_number(page):
    text = page.read_text()
    if TABLE_START in text:
        before, rest = text.split(TABLE_START)
        text = before + rest.split(TABLE_END)[1]
    assert typed_numbers(text) == []


def test_the_variants_table_takes_its_published_parameter_counts_from_the_table():
    lines = PACKAGE_DOC.read_text().splitlines()
    assert sum(line.startswith("| `cct_") for line in lines) >= 7
    for line in lines:
        match = re.match(r"\| `(\w+)` \|.*\| ([\d.]+)M \| ([\d.]+M|–) \|$", line)
        if match and match.group(1) in VARIANTS:
            published = published_parameters(match.group(1))
            assert match.group(3) == (f"{published:.3f}M" if published else "–"), line


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_type_no_published_number(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    for index, cell in enumerate(cells):
        assert typed_numbers("".join(cell["source"])) == [], f"cell {index} types a published number"
