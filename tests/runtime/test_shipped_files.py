"""The files in helpers/assets/ are the ones shipped: each is listed with its SHA-256 digest in
helpers/assets/SHA256SUMS, and a reader refuses a missing or damaged copy, naming the file and
the remedy, instead of loading other numbers silently or failing with a raw h5py error."""

import hashlib
import os
import shutil
import tomllib
from pathlib import Path

import pytest

import helpers
from helpers import data, notebook
from helpers.experiments import data_efficiency, recipe_ablation
from helpers.runtime import weights

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "SHA256SUMS"


def manifest_digests(folder):
    lines = (Path(folder) / MANIFEST).read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def test_every_shipped_file_is_in_the_manifest_with_its_digest():
    listed = manifest_digests(helpers.ASSETS)
    present = {
        path.relative_to(helpers.ASSETS).as_posix()
        for path in helpers.ASSETS.rglob("*") if path.is_file() and path.name != MANIFEST
    }
    remedy = "publish it through its script, or record a hand copy: python -m helpers.runtime.assets --record FILE"
    assert sorted(present - set(listed)) == [], f"files in helpers/assets/ not in {MANIFEST}: {remedy}"
    assert sorted(set(listed) - present) == [], f"{MANIFEST} lists files that are not in helpers/assets/"
    stale = [name for name in sorted(listed) if hashlib.sha256((helpers.ASSETS / name).read_bytes()).hexdigest() != listed[name]]
    assert stale == [], f"files whose digest is not the one in {MANIFEST}: {remedy}"


def test_pip_install_ships_the_manifest_and_every_file_it_lists():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["helpers"]
    package = Path(helpers.__file__).parent
    shipped = {path.relative_to(package).as_posix() for pattern in patterns for path in package.glob(pattern) if path.is_file()}
    wanted = {f"assets/{MANIFEST}"} | {f"assets/{name}" for name in manifest_digests(helpers.ASSETS)}
    assert sorted(wanted - shipped) == []


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A copy of helpers/assets/ that every reader of shipped files reads instead."""
    folder = tmp_path / "assets"
    shutil.copytree(helpers.ASSETS, folder)
    monkeypatch.setattr(helpers, "ASSETS", folder)
    monkeypatch.setattr(weights, "ASSETS", folder)
    monkeypatch.setattr(data, "SAMPLE_PATH", folder / "cifar10_sample.npz")
    monkeypatch.setattr(notebook, "SHIPPED_RUNS", folder / "runs")
    monkeypatch.setattr(recipe_ablation, "BUNDLE", folder / "recipe_records.json")
    monkeypatch.setattr(data_efficiency, "PUBLISHED_CSV", folder / "data_efficiency.csv")
    data._decoded_sample.cache_clear()  # decoded by an earlier test: it would not be read again
    yield folder
    data._decoded_sample.cache_clear()


def damage_the_middle(path):
    """Flip a few bytes in the middle of `path`, keeping its size: the silent kind of damage."""
    content = bytearray(path.read_bytes())
    middle = len(content) // 2
    content[middle:middle + 8] = bytes(255 - byte for byte in content[middle:middle + 8])
    path.write_bytes(bytes(content))


def load_weights():
    from helpers.models import create_model

    create_model("cct_2_3x2", weights="cifar10")


READERS = {
    "cct_2_3x2_cifar10.weights.h5": load_weights,
    "cifar10_sample.npz": data.load_cifar10_sample,
    "runs/cct.json": lambda: notebook.load_run("cct", folder="/nonexistent/runs"),
    "data_efficiency.csv": data_efficiency.published_rows,
    "recipe_records.json": recipe_ablation.read_runs,
}


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_damaged_shipped_file_is_refused_naming_it(assets, name):
    damage_the_middle(assets / name)
    with pytest.raises(ValueError) as refused:
        READERS[name]()
    message = str(refused.value)
    assert f"helpers/assets/{name} is damaged" in message
    assert f"git checkout helpers/assets/{name}" in message and "pip install --force-reinstall" in message


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_deleted_shipped_file_is_reported_missing_naming_it(assets, name):
    (assets / name).unlink()
    with pytest.raises(FileNotFoundError) as refused:
        READERS[name]()
    message = str(refused.value)
    assert f"helpers/assets/{name} is missing" in message and "No CIFAR-10 weights are shipped" not in message
    assert f"git checkout helpers/assets/{name}" in message


def test_weights_never_shipped_still_say_which_are(assets):
    with pytest.raises(ValueError, match=r"No CIFAR-10 weights are shipped for 'cct_7_3x1'; they are for: cct_2_3x2, cvt_2_4, vit_lite_2_4\."):
        weights.weights_path("cct_7_3x1", "cifar10")


def test_a_hand_copy_is_refused_until_recorded(assets, capsys):
    from helpers.runtime.assets import main

    (assets / "runs" / "cct.json").write_text(
        (assets / "runs" / "cvt.json").read_text())  # a run copied in by hand, without recording it
    with pytest.raises(ValueError, match="helpers/assets/runs/cct.json is damaged"):
        notebook.load_run("cct", folder="/nonexistent/runs")
    with pytest.raises(SystemExit):
        main([])  # the check lists it
    assert "helpers/assets/runs/cct.json is damaged" in capsys.readouterr().out
    main(["--record", str(assets / "runs" / "cct.json")])
    assert notebook.load_run("cct", folder="/nonexistent/runs")["model"] == "cvt_2_4"
    assert manifest_digests(assets)["runs/cct.json"] == manifest_digests(helpers.ASSETS)["runs/cvt.json"]


def test_the_writers_of_shipped_files_record_their_digests(assets):
    rows = data_efficiency.published_rows()[:2]
    data_efficiency.publish_rows(rows)
    assert data_efficiency.published_rows() == rows
    recipe_ablation.write_bundle(path=recipe_ablation.BUNDLE)
    assert recipe_ablation.read_runs()
    digests = manifest_digests(assets)
    for name in ("data_efficiency.csv", "recipe_records.json"):
        assert digests[name] == hashlib.sha256((assets / name).read_bytes()).hexdigest()


def test_a_file_is_hashed_once_per_version(assets):
    from helpers.runtime.assets import _digest_of, verified

    path = assets / "data_efficiency.csv"
    before = _digest_of.cache_info().misses
    verified(path)
    verified(path)
    assert _digest_of.cache_info().misses == before + 1
    modified = path.stat().st_mtime_ns
    damage_the_middle(path)
    os.utime(path, ns=(modified + 10**9, modified + 10**9))  # a later version, whatever the clock's granularity
    with pytest.raises(ValueError, match="is damaged"):
        verified(path)
