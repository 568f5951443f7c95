"""Import decodes fully, export skips what cannot open, status finds damage, repair fixes it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ProjectError
from core.imageio import encode_png
from core.project import Project
from core.project.repair import check_project, clear_damaged, repair
from core.project.schema import SCHEMA_VERSION

SHAPE = (24, 32)


def _png(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rng.integers(0, 256, (*SHAPE, 3), dtype=np.uint8)))
    return path


def _truncated_jpeg(path: Path) -> Path:
    """A JPEG cut in half: its header is whole, its pixels are not."""
    rng = np.random.default_rng(7)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path, quality=95)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _float_tiff(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(8).random((16, 16), dtype=np.float32)).save(path)
    return path


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    _png(folder / "good0.png", 0)
    _png(folder / "good1.png", 1)
    _truncated_jpeg(folder / "cut.jpg")
    _float_tiff(folder / "float.tif")
    return folder


def _run(gen):
    return list(gen)[-1]


def test_import_decodes_each_image_and_skips_what_cannot_open(tmp_path, src):
    with Project.create(tmp_path / "p") as p:
        last = _run(p.import_images(src))
        summary = last.info["summary"]
        assert sorted(r.name for r in p.images()) == ["good0.png", "good1.png"]
        reasons = dict(summary.unreadable)
        assert set(reasons) == {str(src / "cut.jpg"), str(src / "float.tif")}
        assert "corrupt or truncated" in reasons[str(src / "cut.jpg")]
        assert "32-bit float" in reasons[str(src / "float.tif")]
        assert all("\n" not in r for r in reasons.values())


def test_fast_import_takes_headers_and_export_skips_undecodable_with_a_named_line(tmp_path, src):
    with Project.create(tmp_path / "p") as p:
        _run(p.import_images(src, fast=True))
        assert len(p) == 4
        # Status decodes the images that import did not (a truncated JPEG's header is fine).
        health = check_project(p)
        assert {d.label for d in health.damage} == {"image damaged"}
        assert len(health.damage) == 2
        for rec in p.images():
            for status in ("in_progress", "submitted", "accepted"):
                p.set_status(rec.id, status)
        last = _run(p.export(tmp_path / "ds"))
    assert last.info["items"] == 2
    skipped = dict(last.info["skipped"])
    assert set(skipped) == {"cut.jpg", "float.tif"}
    assert "cut.jpg" in skipped["cut.jpg"] and "\n" not in skipped["cut.jpg"]


def test_export_of_only_undecodable_images_says_so(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    _truncated_jpeg(folder / "cut.jpg")
    with Project.create(tmp_path / "p") as p:
        _run(p.import_images(folder, fast=True))
        with pytest.raises(ProjectError, match="no image could be exported.*cut.jpg"):
            _run(p.export(tmp_path / "ds", statuses=["new"]))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["p", "src"]


def _project_with_masks(tmp_path: Path) -> tuple[Project, list[int]]:
    folder = tmp_path / "src"
    for i in range(3):
        _png(folder / f"face{i}.png", i)
    p = Project.create(tmp_path / "p")
    _run(p.import_images(folder))
    ids = [r.id for r in p.images()]
    rng = np.random.default_rng(3)
    for i in ids:
        p.save_rough(i, {c: rng.random(SHAPE) > 0.7 for c in ("wrinkle", "pore")})
    return p, ids


def test_status_finds_missing_and_damaged_masks_and_images(tmp_path):
    p, ids = _project_with_masks(tmp_path)
    assert check_project(p).ok
    masks = p.root / "masks"
    (masks / str(ids[0]) / "wrinkle.png").write_bytes(b"garbage")
    (masks / str(ids[1]) / "pore.png").unlink()
    p.image(ids[2]).path.unlink()
    health = check_project(p)
    found = {(d.image_id, d.label) for d in health.damage}
    assert found == {
        (ids[0], "wrinkle mask damaged"),
        (ids[1], "pore mask missing"),
        (ids[2], "image missing"),
    }
    by_image = health.by_image()
    assert "masks/" in by_image[ids[0]][0].detail and by_image[ids[0]][0].repairable
    assert not by_image[ids[2]][0].repairable
    p.close()


def test_clear_damaged_keeps_a_backup_and_the_image_opens_and_paints_again(tmp_path):
    p, ids = _project_with_masks(tmp_path)
    iid = ids[0]
    live = p.root / "masks" / str(iid) / "wrinkle.png"
    live.write_bytes(b"garbage")
    pore_before = (p.root / "masks" / str(iid) / "pore.png").read_bytes()
    with pytest.raises(ProjectError, match="does not match the catalog"):
        p.load_rough(iid)
    lines = clear_damaged(p, iid)
    assert len(lines) == 1 and "wrinkle mask damaged" in lines[0]
    backups = list(live.parent.glob("wrinkle.damaged-*.png"))
    assert len(backups) == 1 and backups[0].read_bytes() == b"garbage"
    assert backups[0].name in lines[0]
    masks = p.load_rough(iid)  # opens again: wrinkle empty, pore untouched
    assert not masks["wrinkle"].any() and masks["pore"].any()
    assert (p.root / "masks" / str(iid) / "pore.png").read_bytes() == pore_before
    assert "cleared wrinkle mask damaged" in p.history(iid)[-1].comment
    painted = np.zeros(SHAPE, bool)
    painted[2:5, 3:9] = True
    p.save_rough(iid, {"wrinkle": painted})
    np.testing.assert_array_equal(p.load_rough(iid)["wrinkle"], painted)
    assert check_project(p).ok or all(d.kind == "image" for d in check_project(p).damage)
    p.close()


def test_repair_clears_every_damaged_file_and_lists_what_needs_the_user(tmp_path):
    p, ids = _project_with_masks(tmp_path)
    (p.root / "masks" / str(ids[0]) / "wrinkle.png").write_bytes(b"garbage")
    (p.root / "masks" / str(ids[1]) / "pore.png").unlink()
    p.image(ids[2]).path.unlink()
    report = repair(p)
    assert len(report.cleared) == 2
    assert report.needs_user == (f"image {ids[2]}: {p.image(ids[2]).path} is missing; relink it",)
    assert [d.label for d in check_project(p).damage] == ["image missing"]
    for i in ids[:2]:
        p.load_rough(i)
    p.close()


def test_repair_needs_a_writable_project(tmp_path):
    p, _ = _project_with_masks(tmp_path)
    p.close()
    with Project.open(tmp_path / "p", read_only=True) as ro, pytest.raises(ProjectError):
        repair(ro)


@pytest.mark.parametrize("read_only", [False, True])
def test_newer_schema_refused_for_reading_too_with_both_versions(tmp_path, read_only):
    Project.create(tmp_path / "p").close()
    conn = sqlite3.connect(tmp_path / "p" / "catalog.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.close()
    with pytest.raises(ProjectError) as info:
        Project.open(tmp_path / "p", read_only=read_only)
    text = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 3}" in text
    assert f"({SCHEMA_VERSION})" in text and "update SkinTrace" in text


def _declared_png(path: Path, cols: int, rows: int) -> Path:
    """A PNG header declaring ``cols × rows`` pixels (no pixel data is needed to test it)."""
    import struct
    import zlib

    data = b"\x89PNG\r\n\x1a\n"
    for kind, body in (
        (b"IHDR", struct.pack(">IIBBBBB", cols, rows, 8, 2, 0, 0, 0)),
        (b"IEND", b""),
    ):
        data += (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )
    path.write_bytes(data)
    return path


def test_pixel_limit_is_the_measured_one_and_named_in_the_refusal(tmp_path):
    from core.errors import ImageLoadError
    from core.imageio import MAX_PIXELS, read_image_size

    # bench_large_image.py: the window needs ~100 MB per megapixel + 0.3 GB, so the
    # limit keeps an image that opens under 8 GB (half of a 16 GB laptop).
    assert 6000 * 4000 <= MAX_PIXELS <= 78_000_000
    at = _declared_png(tmp_path / "at.png", 10_000, MAX_PIXELS // 10_000)
    assert read_image_size(at, max_pixels=MAX_PIXELS) == (MAX_PIXELS // 10_000, 10_000)
    over = _declared_png(tmp_path / "over.png", 10_000, MAX_PIXELS // 10_000 + 1)
    with pytest.raises(ImageLoadError, match=f"over the limit of {MAX_PIXELS / 1e6:.1f} MP"):
        read_image_size(over, max_pixels=MAX_PIXELS)


def test_repair_removes_every_kind_of_leftover_in_the_project(tmp_path):
    p, ids = _project_with_masks(tmp_path)
    root = p.root
    (root / ".catalog.sqlite.x1y2.creating").write_bytes(b"half a catalog")
    (root / "images" / ".face9.png.importing").write_bytes(b"orphan copy")
    (root / "masks" / str(ids[0]) / ".wrinkle.png.999999999-ab.tmp").write_bytes(b"t")
    run = root / "models" / "run-20260101-000000"
    (run / "dataset").mkdir(parents=True)
    (run / "dataset" / "x.png").write_bytes(b"x" * 100)
    (root / "exports" / ".ds.999999999-zz.tmp").mkdir()
    report = repair(p)
    assert len(report.cleanup.removed) == 5
    assert report.cleanup.bytes_freed == len(b"half a catalog") + 11 + 1 + 100
    assert not run.exists() and not list(root.glob(".catalog.sqlite.*"))
    assert sorted(f.name for f in (root / "images").iterdir()) == []  # import was in place
    assert check_project(p).ok
    p.close()


def test_reopening_completes_committed_copies_and_removes_the_others(tmp_path):
    folder = tmp_path / "src"
    _png(folder / "face0.png", 0)
    with Project.create(tmp_path / "p") as p:
        _run(p.import_images(folder, copy=True))
    images = tmp_path / "p" / "images"
    # Killed after the catalog commit, before the rename; and a copy never committed.
    (images / "face0.png").rename(images / ".face0.png.importing")
    (images / ".face9.png.importing").write_bytes(b"never listed")
    with Project.open(tmp_path / "p") as p:
        assert sorted(f.name for f in images.iterdir()) == ["face0.png"]
        assert any("restored images/face0.png" in line for line in p.recovered)
        assert any("face9.png.importing" in line for line in p.recovered)
        assert p.load_rough(p.images()[0].id)["wrinkle"].shape == SHAPE
        assert check_project(p).ok


def test_damaged_exclusion_mask_is_reported_and_cleared_like_a_class(tmp_path):
    p, ids = _project_with_masks(tmp_path)
    iid = ids[0]
    exclude = np.zeros(SHAPE, bool)
    exclude[:4] = True
    p.save_rough(iid, {"exclude": exclude})
    live = p.root / "masks" / str(iid) / "exclude.png"
    assert live.is_file() and check_project(p).ok
    live.write_bytes(b"junk")
    assert [d.label for d in check_project(p).damage] == ["exclude mask damaged"]
    lines = clear_damaged(p, iid)
    assert len(lines) == 1 and "exclude mask damaged" in lines[0]
    assert [b.read_bytes() for b in live.parent.glob("exclude.damaged-*.png")] == [b"junk"]
    assert check_project(p).ok
    masks = p.load_rough(iid)
    assert masks["wrinkle"].any()  # the classes are untouched
    p.close()
