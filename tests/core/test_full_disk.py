"""A full disk (ENOSPC) during saves, exports, dataset writes, imports and catalog commits.

File writes are made to fail by a byte budget on every file opened by
:mod:`core.atomic` (the one write path), or by ``fsync`` reporting ENOSPC as a file
system with delayed allocation does; the catalog is made full for real with SQLite's
``max_page_count``. Each test shows a one-line DiskFullError naming the path, the last
good state intact, no temp files left behind and a project that still opens.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from core.atomic import atomic_write_bytes, atomic_write_text
from core.classes import CLASSES
from core.dataset import DatasetEntry, read_manifest, write_dataset
from core.errors import DiskFullError, ProjectLockedError, SkinTraceError
from core.gt.engine import GTParams
from core.imageio import encode_png
from core.project import Project
from core.project.masks import encode_mask

SHAPE = (20, 24)


class _Disk:
    """Free space shared by every file the patched ``os.fdopen`` opens."""

    def __init__(self, free: int) -> None:
        self.free = free


class _FillingFile:
    """A file object that writes until the disk is full, then raises ENOSPC (short write)."""

    def __init__(self, fh, disk: _Disk) -> None:
        self._fh = fh
        self._disk = disk

    def write(self, data) -> int:
        n = len(data)
        if n > self._disk.free:
            self._fh.write(data[: self._disk.free])
            self._disk.free = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk.free -= n
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(free)`` leaves ``free`` bytes for file contents; ``None`` frees the disk."""
    real = os.fdopen

    def fill(free: int | None) -> None:
        if free is None:
            monkeypatch.setattr(os, "fdopen", real)
            return
        disk = _Disk(free)
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FillingFile(real(*a, **k), disk))

    return fill


@pytest.fixture
def fsync_full(monkeypatch):
    """Writes are buffered fine, but ``fsync`` reports the disk full (delayed allocation)."""

    def fail(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fail)


def _temp_files(root: Path) -> list[Path]:
    """Leftovers of interrupted writes: atomic temps, pending masks, partial datasets."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.name.endswith((".tmp", ".pending", ".creating")) or ".partial-" in p.name
    )


def _masks(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {c: rng.random(SHAPE) > 0.6 for c in CLASSES}


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*SHAPE, 3), dtype=np.uint8)


@pytest.fixture
def proj(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"face{i}.png").write_bytes(encode_png(_image(i)))
    p = Project.create(tmp_path / "proj")
    list(p.import_images(src))
    for rec in p.images():
        p.save_rough(rec.id, _masks(rec.id))
    yield p
    p.close()


def _assert_one_line(exc: SkinTraceError, *needles: str) -> None:
    text = str(exc)
    assert "\n" not in text and text.startswith("disk full: ")
    assert "free some space" in text
    for needle in needles:
        assert needle in text, (needle, text)


def _assert_masks(p: Project, image_id: int, expected: dict[str, np.ndarray]) -> None:
    got = p.load_rough(image_id)
    for c in CLASSES:
        np.testing.assert_array_equal(got[c], expected[c])


def test_atomic_write_on_full_disk_keeps_old_file(tmp_path, full_disk, rng):
    target = tmp_path / "sub" / "data.bin"
    atomic_write_bytes(target, b"old contents")
    new = rng.bytes(5000)
    for free in (0, 100, 4999):
        full_disk(free)
        with pytest.raises(DiskFullError) as info:
            atomic_write_bytes(target, new)
        _assert_one_line(info.value, str(target), "previous version is unchanged")
        # Still an OSError for code that handles OS errors.
        assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
        assert info.value.filename == str(target)
        assert target.read_bytes() == b"old contents"
        assert _temp_files(tmp_path) == []
    full_disk(None)
    atomic_write_text(target, "fits now")
    assert target.read_text(encoding="utf-8") == "fits now"


def test_atomic_write_fsync_reports_full_disk(tmp_path, fsync_full):
    target = tmp_path / "notes.txt"
    target.write_text("kept", encoding="utf-8")
    with pytest.raises(DiskFullError, match="notes.txt"):
        atomic_write_text(target, "x" * 100)
    assert target.read_text(encoding="utf-8") == "kept"
    assert _temp_files(tmp_path) == []


def test_other_os_errors_are_not_called_disk_full(tmp_path, monkeypatch):
    def denied(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", denied)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(tmp_path / "x.bin", b"abc")
    assert not isinstance(info.value, DiskFullError) and info.value.errno == errno.EIO
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize("second_class_only", [False, True])
def test_save_rough_on_full_disk_keeps_last_save(proj, full_disk, second_class_only):
    rec = proj.images()[1]
    before = _masks(rec.id)
    revisions = proj.mask_revisions(rec.id)
    history = proj.history(rec.id)
    new = _masks(100)
    # Room for the first class's new file only: the save must be undone across classes.
    full_disk(len(encode_mask(new["wrinkle"])) + 8 if second_class_only else 0)
    with pytest.raises(DiskFullError) as info:
        proj.save_rough(rec.id, new)
    failed = "pore" if second_class_only else "wrinkle"
    live = proj.root / "masks" / str(rec.id) / f"{failed}.png"
    _assert_one_line(info.value, f"the {failed} rough mask of image {rec.id}", str(live))
    _assert_masks(proj, rec.id, before)
    assert proj.mask_revisions(rec.id) == revisions
    assert proj.history(rec.id) == history
    assert _temp_files(proj.root) == []
    proj.close()
    full_disk(None)
    with Project.open(proj.root) as again:
        assert again.recovered == []
        _assert_masks(again, rec.id, before)
        again.save_rough(rec.id, new)  # space freed: the same save now works
        _assert_masks(again, rec.id, new)


def test_save_rough_fsync_full(proj, fsync_full):
    rec = proj.images()[0]
    with pytest.raises(DiskFullError, match=f"masks/{rec.id}/wrinkle.png"):
        proj.save_rough(rec.id, _masks(7))
    _assert_masks(proj, rec.id, _masks(rec.id))
    assert _temp_files(proj.root) == []


def test_catalog_full_during_save_rolls_back_files(proj, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "new.png").write_bytes(encode_png(_image(9)))
    list(proj.import_images(extra))
    rec = proj.images()[-1]
    assert rec.status == "new"  # its first save moves it, writing a history row
    before = {c: np.zeros(SHAPE, bool) for c in CLASSES}
    db = proj.db.writer  # the catalog file's writer connection
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    # SQLite itself reports SQLITE_FULL once the catalog would need a new page.
    db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(DiskFullError) as info:
        proj.save_rough(rec.id, _masks(55), comment="x" * 20_000)
    _assert_one_line(info.value, str(proj.catalog_path), "last saved state is unchanged")
    _assert_masks(proj, rec.id, before)
    assert _temp_files(proj.root) == []
    proj.close()
    with Project.open(proj.root) as again:
        assert again.recovered == []
        _assert_masks(again, rec.id, before)
        assert again.image(rec.id).status == "new"
        assert [h.to_status for h in again.history(rec.id)] == ["new"]
        again.save_rough(rec.id, _masks(55), comment="x" * 20_000)
        assert again.image(rec.id).status == "in_progress"


def _accept_all(p: Project) -> None:
    for rec in p.images():
        p.set_status(rec.id, "submitted")
        p.set_status(rec.id, "accepted")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


def test_export_on_full_disk_keeps_previous_dataset(proj, tmp_path, full_disk):
    _accept_all(proj)
    out = tmp_path / "ds"
    list(proj.export(out))
    before = _tree(out)
    for rec in proj.images():
        proj.set_status(rec.id, "in_progress")
        proj.save_rough(rec.id, _masks(rec.id + 50))
    _accept_all(proj)
    full_disk(3000)  # fails part-way through the second image
    with pytest.raises(DiskFullError) as info:
        list(proj.export(out, force=True))
    _assert_one_line(info.value, f"the dataset to {out}")
    assert _tree(out) == before
    assert len(read_manifest(out).items) == 3
    assert _temp_files(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "proj", "src"]
    proj.close()
    full_disk(None)
    with Project.open(proj.root) as again:
        list(again.export(out, force=True))
        after = _tree(out)
        assert after.keys() == before.keys() and after != before


def test_dataset_write_on_full_disk_leaves_nothing(tmp_path, full_disk):
    entries = [
        DatasetEntry(f"item{i}", _image(i), _masks(i), "accepted", f"{i:064x}") for i in range(3)
    ]
    for free in (0, 5000):
        full_disk(free)
        with pytest.raises(DiskFullError, match="disk full: cannot write the dataset to"):
            list(write_dataset(tmp_path / "ds", iter(entries), params=GTParams()))
        assert list(tmp_path.iterdir()) == []
    full_disk(None)
    last = list(write_dataset(tmp_path / "ds", iter(entries), params=GTParams()))[-1]
    assert last.info["items"] == 3 and len(read_manifest(tmp_path / "ds").items) == 3


def test_import_copy_on_full_disk_leaves_no_orphan_copies(tmp_path, full_disk):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"face{i}.png").write_bytes(encode_png(_image(i)))
    size = (src / "face0.png").stat().st_size
    p = Project.create(tmp_path / "proj")
    full_disk(size + size // 2)  # the first copy fits, the second does not
    with pytest.raises(DiskFullError) as info:
        list(p.import_images(src, copy=True))
    _assert_one_line(info.value, "a copy of face1.png", str(p.root / "images" / "face1.png"))
    # True to what was kept: the image copied before the disk filled is in the project.
    assert "the 1 image(s) imported before it are kept (importing again skips them)" in str(
        info.value
    )
    assert len(p) == 1
    assert [f.name for f in (p.root / "images").iterdir()] == ["face0.png"]
    assert _temp_files(p.root) == [] and not list((p.root / "images").glob(".*"))
    p.close()
    full_disk(None)
    with Project.open(p.root) as again:
        list(again.import_images(src, copy=True))
        assert len(again) == 3


def test_import_copy_on_full_disk_before_any_image_says_none_was_kept(tmp_path, full_disk):
    src = tmp_path / "src"
    src.mkdir()
    (src / "face0.png").write_bytes(encode_png(_image(0)))
    with Project.create(tmp_path / "proj") as p:
        full_disk(10)
        with pytest.raises(DiskFullError) as info:
            list(p.import_images(src, copy=True))
        _assert_one_line(info.value, "a copy of face0.png", "no image was imported")
        assert "kept" not in str(info.value) and len(p) == 0
        assert list((p.root / "images").iterdir()) == []


def test_disk_full_message_says_each_thing_once(tmp_path, full_disk):
    entries = [DatasetEntry("item0", _image(0), _masks(0), "accepted", "0" * 64)]
    full_disk(100)
    with pytest.raises(DiskFullError) as info:
        list(write_dataset(tmp_path / "ds", iter(entries), params=GTParams()))
    text = str(info.value)
    _assert_one_line(info.value, "the dataset to", "no dataset was written")
    assert text.count("disk full") == 1 and text.count("free some space") == 1, text
    assert "unchanged" not in text  # there was no earlier dataset to keep


def test_prelabel_on_full_disk_keeps_previous_prelabel(proj, full_disk):
    rec = proj.images()[0]
    rng = np.random.default_rng(3)
    first = {c: rng.integers(0, 256, SHAPE, dtype=np.uint8) for c in CLASSES}
    proj.save_prelabel(rec.id, first, source="baseline:first")
    full_disk(0)
    with pytest.raises(DiskFullError) as info:
        proj.save_prelabel(rec.id, {c: 255 - m for c, m in first.items()}, source="second")
    live = proj.root / "prelabels" / str(rec.id) / "wrinkle.png"
    _assert_one_line(info.value, f"the wrinkle pre-label of image {rec.id}", str(live))
    maps, source = proj.load_prelabel(rec.id)
    assert source == "baseline:first"
    for c in CLASSES:
        np.testing.assert_array_equal(maps[c], first[c])
    assert _temp_files(proj.root) == []


def test_create_on_full_disk_makes_no_project(tmp_path, monkeypatch):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    with pytest.raises(DiskFullError) as info:
        Project.create(tmp_path / "p")
    _assert_one_line(info.value, f"a new project to {tmp_path / 'p'}", "no project was made")
    assert not (tmp_path / "p" / "catalog.sqlite").exists()
    monkeypatch.undo()
    Project.create(tmp_path / "p").close()  # room again: the same folder works


def test_open_on_full_disk_still_locks_without_holder_info(proj, monkeypatch):
    root = proj.root
    proj.close()

    def no_space(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", no_space)
    with Project.open(root) as p:
        assert not p.read_only and len(p) == 3
        with pytest.raises(ProjectLockedError, match="holder unknown"):
            Project.open(root)
