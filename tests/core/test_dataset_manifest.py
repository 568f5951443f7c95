"""core.dataset: manifest reading, path safety, deterministic split."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.classes import CLASSES
from core.dataset import (
    DEFAULT_VAL_RATIO,
    FORMAT_NAME,
    FORMAT_VERSION,
    encode_png,
    read_manifest,
    safe_item_id,
    split_for,
)
from core.errors import DatasetError


def _item(item_id: str, split: str = "train") -> dict:
    return {
        "id": item_id,
        "image": f"images/{item_id}.png",
        "gt": {c: f"gt/{c}/{item_id}.png" for c in CLASSES},
        "masks": {c: f"masks/{c}/{item_id}.png" for c in CLASSES},
        "rough": {c: f"rough/{c}/{item_id}.png" for c in CLASSES},
        "status": "accepted",
        "split": split,
        "content_hash": "ab" * 32,
    }


def _make_dataset(root: Path, records: list[dict], **top) -> Path:
    for item in records:
        paths = [item["image"]]
        for key in ("gt", "masks", "rough"):
            paths += list(item[key].values())
        for rel in paths:
            if not rel or ".." in rel or rel.startswith("/") or "\\" in rel or ":" in rel:
                continue
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(encode_png(np.zeros((4, 5), np.uint8)))
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "classes": list(CLASSES),
        "gt_params": {"sigma": 3.0},
        "items": records,
    }
    manifest.update(top)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_read_manifest_resolves_absolute_paths_and_splits(tmp_path):
    root = _make_dataset(tmp_path, [_item("a"), _item("b", "val"), _item("c")])
    m = read_manifest(root)
    assert [i.id for i in m.items] == ["a", "b", "c"]
    assert [i.id for i in m.split("train")] == ["a", "c"]
    assert [i.id for i in m.split("val")] == ["b"]
    assert [i.id for i in m.split("all")] == ["a", "b", "c"]
    # A user error (e.g. a mistyped split in a script), not a bare ValueError.
    with pytest.raises(DatasetError, match="unknown split 'test'; expected train, val or all"):
        m.split("test")
    item = m.items[0]
    assert item.image == root / "images" / "a.png" and item.image.is_absolute()
    assert item.gt["pore"] == root / "gt" / "pore" / "a.png"
    assert item.rough["wrinkle"].is_file()
    assert m.gt_params == {"sigma": 3.0}
    assert m.classes == CLASSES


@pytest.mark.parametrize(
    "bad",
    ["../outside.png", "/etc/passwd", "images/../../x.png", "C:\\x.png", "images\\a.png", ""],
)
def test_paths_leaving_the_folder_are_refused(tmp_path, bad):
    item = _item("a")
    item["image"] = bad
    root = _make_dataset(tmp_path / "ds", [item])
    with pytest.raises(DatasetError, match=r"refused|relative path|image: String should have"):
        read_manifest(root)


def test_symlink_escaping_the_folder_is_refused(tmp_path):
    root = _make_dataset(tmp_path / "ds", [_item("a")])
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    target = root / "images" / "a.png"
    target.unlink()
    os.symlink(outside, target)
    with pytest.raises(DatasetError, match="outside the dataset folder"):
        read_manifest(root)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "other"}, "not a skintrace-gt-dataset"),
        ({"format_version": 2}, "format version 2"),
        ({"classes": ["pore", "wrinkle"]}, "classes must be"),
        ({"items": {}}, "items: Input should be a valid list"),
    ],
)
def test_wrong_header_is_refused(tmp_path, change, message):
    root = _make_dataset(tmp_path, [_item("a")], **change)
    with pytest.raises(DatasetError, match=message):
        read_manifest(root)


def test_missing_file_duplicate_id_bad_split_and_no_manifest(tmp_path):
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        read_manifest(tmp_path)
    root = _make_dataset(tmp_path / "dup", [_item("a"), _item("a")])
    with pytest.raises(DatasetError, match="appears twice"):
        read_manifest(root)
    root = _make_dataset(tmp_path / "split", [_item("a", "test")])
    with pytest.raises(DatasetError, match=r"items\[0\]\.split: .* got 'test'"):
        read_manifest(root)
    root = _make_dataset(tmp_path / "gone", [_item("a")])
    (root / "gt" / "pore" / "a.png").unlink()
    with pytest.raises(DatasetError, match="gt.pore 'gt/pore/a.png' is missing"):
        read_manifest(root)
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="cannot be read"):
        read_manifest(root)


def test_split_is_deterministic_stable_and_near_ratio():
    rng = np.random.default_rng(7)
    hashes = [rng.bytes(32).hex() for _ in range(4000)]
    splits = [split_for(h, DEFAULT_VAL_RATIO) for h in hashes]
    assert splits == [split_for(h, DEFAULT_VAL_RATIO) for h in hashes]
    share = splits.count("val") / len(splits)
    assert abs(share - DEFAULT_VAL_RATIO) < 0.02
    # Adding images never moves existing ones: the split depends on the hash alone.
    more = [rng.bytes(32).hex() for _ in range(100)] + hashes
    assert [split_for(h) for h in more][100:] == splits
    # A different seed gives a different assignment.
    assert [split_for(h, seed=1) for h in hashes] != splits
    assert {split_for(h, 0.0) for h in hashes} == {"train"}
    assert {split_for(h, 1.0) for h in hashes} == {"val"}
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split_for("ab", 1.5)


def test_safe_item_id():
    assert safe_item_id("face 01 (copy)") == "face_01_copy"
    assert safe_item_id("..") == "item"
    assert safe_item_id("ok-name_1.v2") == "ok-name_1.v2"
