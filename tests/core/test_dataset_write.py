"""core.dataset writing: GT content, layout, CSV index, atomicity, from-masks."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.classes import CLASSES
from core.dataset import (
    DatasetEntry,
    encode_png,
    read_manifest,
    split_for,
    write_dataset,
)
from core.errors import DatasetError
from core.from_masks import dataset_from_masks
from core.gt.engine import GTParams, compute_gt
from core.imageio import load_image


def _read(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _entries(rng: np.random.Generator, n: int, shape=(24, 28)) -> list[DatasetEntry]:
    out = []
    for i in range(n):
        image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        rough = {c: rng.random(shape) > 0.6 for c in CLASSES}
        out.append(DatasetEntry(f"img{i:03d}", image, rough, "accepted", rng.bytes(32).hex()))
    return out


def _drain(gen):
    """Run a progress generator to the end; return its last Progress."""
    return list(gen)[-1]


def test_written_dataset_reads_back_with_exact_gt(tmp_path, rng):
    entries = _entries(rng, 6)
    params = GTParams(sigma=3.0)
    odd = GTParams(sigma=1.5, pore_threshold=2.0)
    entries[2] = DatasetEntry(**{**entries[2].__dict__, "params": odd})
    last = _drain(write_dataset(tmp_path / "ds", entries, params=params, val_ratio=0.5))
    assert last.info["items"] == 6 and last.info["train"] + last.info["val"] == 6
    m = read_manifest(tmp_path / "ds")
    assert m.gt_params == params.to_dict()
    assert [i.id for i in m.items] == [e.id for e in entries]
    for entry, item in zip(entries, m.items, strict=True):
        np.testing.assert_array_equal(load_image(item.image).pixels, entry.image)
        gt = compute_gt(entry.image, entry.rough, entry.params or params)
        for c in CLASSES:
            np.testing.assert_array_equal(_read(item.gt[c]), gt[c])
            np.testing.assert_array_equal(_read(item.masks[c]), (gt[c] > 0) * 255)
            np.testing.assert_array_equal(_read(item.rough[c]) > 0, entry.rough[c])
        assert item.split == split_for(entry.content_hash, 0.5)
        assert item.status == "accepted" and item.content_hash == entry.content_hash
    assert m.items[2].gt_params == odd.to_dict() and m.items[0].gt_params is None
    with open(tmp_path / "ds" / "index.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == [e.id for e in entries]
    assert rows[0]["gt_pore"] == "gt/pore/img000.png" and rows[0]["rows"] == "24"
    assert [r["split"] for r in rows] == [i.split for i in m.items]


def test_failed_write_leaves_nothing_complete_looking(tmp_path, rng):
    entries = _entries(rng, 4)

    def failing():
        yield from entries[:2]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        _drain(write_dataset(tmp_path / "ds", failing(), params=GTParams()))
    assert list(tmp_path.iterdir()) == []
    # An abandoned generator (GUI cancel) also cleans up.
    gen = write_dataset(tmp_path / "ds", entries, params=GTParams())
    next(gen), next(gen)
    gen.close()
    assert list(tmp_path.iterdir()) == []
    bad = [entries[0], DatasetEntry("x", entries[1].image[:, :, 0], {}, "accepted", "h")]
    with pytest.raises(DatasetError, match="must be \\(M, N, 3\\) uint8"):
        _drain(write_dataset(tmp_path / "ds", bad, params=GTParams()))
    dup = [entries[0], entries[0]]
    with pytest.raises(DatasetError, match="appears twice"):
        _drain(write_dataset(tmp_path / "ds", dup, params=GTParams()))
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_needs_force(tmp_path, rng):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty; .* --force"):
        _drain(write_dataset(out, _entries(rng, 1), params=GTParams()))
    assert (out / "keep.txt").exists()
    # --force replaces only a folder SkinTrace wrote: the user's folder stays as it was.
    with pytest.raises(DatasetError, match="not a folder SkinTrace wrote"):
        _drain(write_dataset(out, _entries(rng, 1), params=GTParams(), force=True))
    assert (out / "keep.txt").read_text() == "mine"
    ours = tmp_path / "ours"
    _drain(write_dataset(ours, _entries(rng, 1), params=GTParams()))
    _drain(write_dataset(ours, _entries(rng, 2), params=GTParams(), force=True))
    assert len(read_manifest(ours).items) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "ours"]
    evil = DatasetEntry("../a", np.zeros((2, 2, 3), np.uint8), {}, "new", "h")
    with pytest.raises(DatasetError, match="must be 1-128 letters"):
        _drain(write_dataset(tmp_path / "x", [evil], params=GTParams()))


def test_dataset_from_masks(tmp_path, rng):
    images, rw, rp = tmp_path / "img", tmp_path / "rw", tmp_path / "rp"
    for d in (images, rw, rp):
        d.mkdir()
    shape = (20, 26)
    pix = {}
    for stem in ("a", "b", "c"):
        pix[stem] = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        (images / f"{stem}.png").write_bytes(encode_png(pix[stem]))
    wa = (rng.random(shape) > 0.5).astype(np.uint8) * 3  # faint but nonzero = painted
    (rw / "a.png").write_bytes(encode_png(wa))
    (rp / "a.png").write_bytes(encode_png(np.zeros(shape, np.uint8)))
    (rp / "b.png").write_bytes(encode_png(np.full(shape, 255, np.uint8)))
    params = GTParams(pore_threshold=1.0)
    last = _drain(dataset_from_masks(images, rw, rp, tmp_path / "out", params=params))
    assert [Path(p).name for p, _ in last.info["skipped"]] == ["c.png"]
    m = read_manifest(tmp_path / "out")
    assert [i.id for i in m.items] == ["a", "b"]
    gt = compute_gt(pix["a"], {"wrinkle": wa > 0}, params)
    np.testing.assert_array_equal(_read(m.items[0].gt["wrinkle"]), gt["wrinkle"])
    assert not _read(m.items[1].rough["wrinkle"]).any()  # missing mask = empty
    assert _read(m.items[1].rough["pore"]).all()
    (rw / "b.png").write_bytes(encode_png(np.zeros((3, 3), np.uint8)))
    with pytest.raises(DatasetError, match="mask is 3×3"):
        _drain(dataset_from_masks(images, rw, rp, tmp_path / "out2"))
    assert not (tmp_path / "out2").exists()
    with pytest.raises(DatasetError, match="does not exist"):
        _drain(dataset_from_masks(images, tmp_path / "nope", rp, tmp_path / "out3"))
