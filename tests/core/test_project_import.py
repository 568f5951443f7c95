"""core.project import: recursion, patterns, duplicates, non-images, masks by stem, relink."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import ProjectError
from core.imageio import encode_png
from core.progress import CancelToken
from core.project import Project, Status
from core.project.importer import ImportSummary


def _png(path: Path, rng: np.random.Generator, shape=(20, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)))
    return path


def _run(gen) -> ImportSummary:
    last = None
    for last in gen:
        assert 0 <= last.done <= last.total
    return last.info["summary"]


@pytest.fixture
def proj(tmp_path):
    p = Project.create(tmp_path / "proj", user="bob")
    yield p
    p.close()


def test_recursive_import_reports_everything_skipped(proj, tmp_path, rng):
    src = tmp_path / "src"
    a = _png(src / "a.png", rng)
    _png(src / "sub" / "deep" / "b.png", rng)
    shutil.copy(a, src / "sub" / "a_copy.png")  # duplicate content
    (src / "notes.txt").write_text("hello")
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    _png(src / ".hidden" / "c.png", rng)
    summary = _run(proj.import_images(src))
    assert summary.added == 2
    assert summary.duplicates == ((str(src / "sub" / "a_copy.png"), "a.png"),)
    assert summary.not_images == (str(src / "notes.txt"),)
    assert [p for p, _ in summary.unreadable] == [str(src / "broken.jpg")]
    assert "broken.jpg" in summary.unreadable[0][1]
    assert [r.name for r in proj.images()] == ["a.png", "sub/deep/b.png"]
    rec = proj.images()[0]
    assert rec.path == a and not rec.copied and (rec.rows, rec.cols) == (20, 30)
    assert rec.status is Status.NEW and proj.history(rec.id)[0].user == "bob"
    assert "added 2 image(s)" in summary.lines()
    # Importing again adds nothing: everything is a duplicate now.
    again = _run(proj.import_images(src))
    assert again.added == 0 and len(again.duplicates) == 3


def test_patterns_and_copy_in(proj, tmp_path, rng):
    src = tmp_path / "src"
    _png(src / "x1.png", rng)
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(src / "x2.JPG")
    _png(src / "skip" / "y.png", rng)
    summary = _run(proj.import_images(src, patterns=["*.jpg", "x1*"], copy=True))
    assert summary.added == 2
    recs = proj.images()
    assert [r.name for r in recs] == ["x1.png", "x2.JPG"]
    assert all(r.copied and r.path.parent == proj.root / "images" for r in recs)
    shutil.rmtree(src)  # copied images do not depend on the source any more
    assert proj.missing_images() == []


def test_exif_rotated_jpeg_gets_loaded_shape(proj, tmp_path, rng):
    from core.imageio import load_image

    src = tmp_path / "src"
    src.mkdir()
    im = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°
    im.save(src / "r.jpg", exif=exif)
    _run(proj.import_images(src))
    rec = proj.images()[0]
    assert (rec.rows, rec.cols) == load_image(rec.path).pixels.shape[:2] == (20, 12)


def test_existing_masks_and_gt_maps_matched_by_stem(proj, tmp_path, rng):
    src = tmp_path / "src"
    _png(src / "f1.png", rng)
    _png(src / "f2.png", rng)
    _png(src / "f3.png", rng)
    rough_w = src / "rough_wrinkle"  # inside the image folder: not imported as images
    w1 = np.zeros((20, 30), np.uint8)
    w1[5:9, 2:20] = 255
    rough_w.mkdir()
    (rough_w / "f1.png").write_bytes(encode_png(w1))
    (rough_w / "f2.png").write_bytes(encode_png(np.zeros((5, 5), np.uint8)))  # wrong size
    gt_p = tmp_path / "gt_pore"
    gt_p.mkdir()
    g3 = np.zeros((20, 30), np.uint8)
    g3[10, 10] = 37
    (gt_p / "f3.png").write_bytes(encode_png(g3))
    summary = _run(proj.import_images(src, rough_dirs={"wrinkle": rough_w}, gt_dirs={"pore": gt_p}))
    assert summary.added == 3
    assert summary.masks_matched == {"wrinkle": 1, "pore": 1}
    assert [Path(p).name for p, _ in summary.mask_errors] == ["f2.png"]
    by_name = {r.name: r for r in proj.images()}
    np.testing.assert_array_equal(proj.load_rough(by_name["f1.png"].id)["wrinkle"], w1 > 0)
    np.testing.assert_array_equal(proj.load_rough(by_name["f3.png"].id)["pore"], g3 > 0)
    assert by_name["f1.png"].status is Status.IN_PROGRESS
    assert by_name["f2.png"].status is Status.NEW


def test_cancel_keeps_what_was_imported(proj, tmp_path, rng):
    src = tmp_path / "src"
    for i in range(5):
        _png(src / f"i{i}.png", rng)
    token = CancelToken()
    last = None
    for last in proj.import_images(src, cancel=token):
        if last.done == 2:
            token.cancel()
    summary = last.info["summary"]
    assert summary.cancelled and summary.added == 2 and len(proj) == 2


def test_missing_images_relink_by_folder_and_by_file(proj, tmp_path, rng):
    src = tmp_path / "src"
    paths = [_png(src / f"m{i}.png", rng) for i in range(3)]
    _run(proj.import_images(src))
    moved = tmp_path / "moved" / "renamed"
    moved.mkdir(parents=True)
    shutil.move(paths[0], moved / "m0.png")
    shutil.move(paths[1], moved / "other-name.png")
    paths[2].unlink()
    missing = proj.missing_images()
    assert [r.name for r in missing] == ["m0.png", "m1.png", "m2.png"]
    result = proj.relink(tmp_path / "moved")
    assert len(result.relinked) == 2 and result.still_missing == (missing[2].id,)
    assert [r.name for r in proj.missing_images()] == ["m2.png"]
    assert proj.image(missing[1].id).path == moved / "other-name.png"
    # Relinking one image to a different picture is refused.
    impostor = _png(tmp_path / "impostor.png", rng)
    with pytest.raises(ProjectError, match="content differs"):
        proj.relink(impostor, image_id=missing[2].id)
    fresh = tmp_path / "back" / "m2.png"
    fresh.parent.mkdir()
    (moved / "m0.png").replace(fresh)
    result = proj.relink(fresh, image_id=missing[0].id)
    assert result.relinked == ((missing[0].id, str(fresh)),)


def test_changed_image_is_detected(proj, tmp_path, rng):
    src = tmp_path / "src"
    p = _png(src / "c.png", rng)
    _run(proj.import_images(src))
    assert proj.changed_images(deep=True) == []
    _png(p, rng, shape=(21, 30))
    assert [r.name for r in proj.changed_images()] == ["c.png"]


def test_bad_arguments(proj, tmp_path):
    with pytest.raises(ProjectError, match="is not a folder"):
        list(proj.import_images(tmp_path / "nope"))
    with pytest.raises(ProjectError, match="mask folder .* does not exist"):
        list(proj.import_images(tmp_path, rough_dirs={"pore": tmp_path / "nope"}))


def test_project_inside_or_equal_to_the_imported_folder(tmp_path, rng):
    src = tmp_path / "faces"
    _png(src / "a.png", rng)
    with Project.create(src / "proj") as inner:
        assert _run(inner.import_images(src)).added == 1
        rec = inner.images()[0]
        inner.save_rough(rec.id, {"pore": np.ones((rec.rows, rec.cols), bool)})
        again = _run(inner.import_images(src))
        assert again.added == 0 and again.not_images == ()
    src = tmp_path / "faces2"
    _png(src / "a.png", rng)
    with Project.create(src) as same:  # the image folder itself becomes the project
        summary = _run(same.import_images(src))
        assert summary.added == 1 and summary.not_images == ()
        rec = same.images()[0]
        assert rec.name == "a.png" and rec.path == src / "a.png"
        same.save_rough(rec.id, {"pore": np.ones((rec.rows, rec.cols), bool)})
        assert _run(same.import_images(src)).added == 0


@pytest.mark.parametrize("damage", ["truncated", "bit flip"])
def test_damaged_png_is_refused_at_import(proj, tmp_path, rng, damage):
    src = tmp_path / "src"
    good = _png(src / "good.png", rng, shape=(60, 80))
    data = bytearray(_png(tmp_path / "other.png", rng, shape=(60, 80)).read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]  # a half-copied file: the header alone looks fine
    else:
        data[len(data) // 2] ^= 0x55  # inside IDAT: the chunk's CRC no longer matches
    (src / "bad.png").write_bytes(bytes(data))
    summary = _run(proj.import_images(src))
    assert summary.added == 1 and [r.path for r in proj.images()] == [good]
    assert [p for p, _ in summary.unreadable] == [str(src / "bad.png")]
    assert "corrupt or truncated" in summary.unreadable[0][1]


def test_mask_of_a_skipped_duplicate_serves_the_imported_copy(proj, tmp_path, rng):
    # "copy.png" sorts first and is imported; "sub/face.png" (same bytes) is the skipped
    # duplicate, but the annotator's mask is named after it: it must not be lost.
    src = tmp_path / "src"
    face = _png(src / "sub" / "face.png", rng)
    shutil.copy(face, src / "copy.png")
    rough_p = tmp_path / "rough_pore"
    rough_p.mkdir()
    m = np.zeros((20, 30), np.uint8)
    m[3:7, 4:9] = 255
    (rough_p / "face.png").write_bytes(encode_png(m))
    summary = _run(proj.import_images(src, rough_dirs={"pore": rough_p}))
    assert summary.added == 1 and len(summary.duplicates) == 1
    assert summary.masks_matched == {"wrinkle": 0, "pore": 1}
    (rec,) = proj.images()
    assert rec.name == "copy.png"
    np.testing.assert_array_equal(proj.load_rough(rec.id)["pore"], m > 0)


def test_importing_the_project_folder_itself_skips_its_catalog(proj, rng):
    # Images dropped into the project folder and the folder imported: the catalog and
    # its WAL files are the project's own, not "not an image" entries.
    _png(proj.root / "faces" / "a.png", rng)
    summary = _run(proj.import_images(proj.root))
    assert summary.added == 1
    assert not [f for f in summary.not_images if "catalog" in str(f)]
