"""The project command line: new, import, status, history, relink, export, dataset from-masks."""

from __future__ import annotations

import errno
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from core.dataset import read_manifest
from core.imageio import encode_png
from core.project import Project, Status

ROOT = Path(__file__).resolve().parents[2]


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))
    return path


@pytest.fixture
def faces(tmp_path, rng):
    src = tmp_path / "faces"
    for i in range(4):
        _png(src / f"f{i}.png", rng.integers(0, 256, (16, 20, 3), dtype=np.uint8))
    (src / "readme.txt").write_text("not an image")
    masks = tmp_path / "rough_pore"
    _png(masks / "f0.png", (rng.random((16, 20)) > 0.5).astype(np.uint8) * 255)
    return src


@pytest.mark.parametrize(
    "argv",
    [
        ["new"],
        ["import"],
        ["status"],
        ["history"],
        ["relink"],
        ["export"],
        ["dataset"],
        ["dataset", "from-masks"],
        ["agreement"],
    ],
)
def test_help_for_each_command(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    assert "usage: skintrace" in capsys.readouterr().out


def test_new_import_status_export_round_trip(tmp_path, faces, capsys, monkeypatch):
    monkeypatch.setenv("SKINTRACE_USER", "carol")
    proj = tmp_path / "proj"
    assert main(["new", str(proj), "--name", "Trial", "--sigma", "3"]) == 0
    assert "created project 'Trial'" in capsys.readouterr().out
    code = main(
        ["import", str(proj), str(faces), "--rough-pore", str(tmp_path / "rough_pore"), "-q"]
    )
    out = capsys.readouterr()
    assert code == 0
    assert "added 4 image(s)" in out.out and "attached 1 pore mask(s)" in out.out
    assert "not an image:" in out.err and "readme.txt" in out.err
    with Project.open(proj, user="dave") as p:
        assert p.params().sigma == 3.0
        for rec in p.images()[:3]:
            p.save_rough(rec.id, {"wrinkle": np.ones((16, 20), bool)})
            p.set_status(rec.id, "submitted")
            p.set_status(rec.id, "accepted", comment="ok")
        first = p.images()[0].id
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "Trial: 4 image(s)" in out
    assert "accepted     3" in out and "new          1" in out
    assert main(["history", str(proj), str(first)]) == 0
    out = capsys.readouterr().out
    assert "- -> new  carol" in out and "submitted -> accepted  dave  ok" in out
    assert main(["export", str(proj), str(tmp_path / "ds"), "--val-ratio", "0.5", "-q"]) == 0
    assert "wrote 3 item(s)" in capsys.readouterr().out
    assert len(read_manifest(tmp_path / "ds").items) == 3
    # Refuses to overwrite without --force, with a one-line reason and exit code 1.
    assert main(["export", str(proj), str(tmp_path / "ds"), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert (
        main(["export", str(proj), str(tmp_path / "ds"), "--status", "new", "--force", "-q"]) == 0
    )
    items = read_manifest(tmp_path / "ds").items
    assert [i.status for i in items] == ["new"]


def test_status_lists_images_changed_since_import(tmp_path, faces, capsys, rng):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(faces), "-q"])
    capsys.readouterr()
    assert main(["status", str(proj)]) == 0
    assert "changed" not in capsys.readouterr().out
    # Another image saved over f2 (larger): its rough masks may no longer fit it.
    _png(faces / "f2.png", rng.integers(0, 256, (32, 40, 3), dtype=np.uint8))
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "1 image(s) changed since import" in out
    assert str(faces / "f2.png") in out and str(faces / "f1.png") not in out


def test_relink_after_moving_images(tmp_path, faces, capsys):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(faces), "-q"])
    shutil.move(faces, tmp_path / "moved")
    assert main(["status", str(proj)]) == 0
    out = capsys.readouterr().out
    assert "4 image(s) missing" in out
    assert all(str(tmp_path / "faces" / f"f{i}.png") in out for i in range(4))  # listed there
    assert main(["relink", str(proj), str(tmp_path / "moved")]) == 0
    assert "relinked 4 image(s)" in capsys.readouterr().out
    with Project.open(proj, read_only=True) as p:
        assert p.missing_images() == []
        assert p.counts()[Status.NEW] == 4


def test_import_options_reach_the_project(tmp_path, faces, capsys):
    # --include, --copy, --gt-wrinkle and --user each change what the import does.
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    gt = tmp_path / "gt_wrinkle"
    _png(gt / "f1.png", np.pad(np.full((4, 4), 90, np.uint8), ((0, 12), (0, 16))))
    argv = ["import", str(proj), str(faces), "--include", "f1.*", "f3.*", "--copy"]
    assert main([*argv, "--gt-wrinkle", str(gt), "--user", "erin", "-q"]) == 0
    assert "added 2 image(s)" in capsys.readouterr().out
    with Project.open(proj, read_only=True) as p:
        records = {r.name: r for r in p.images()}
        assert sorted(records) == ["f1.png", "f3.png"]
        assert all(r.copied and r.path.parent == proj / "images" for r in records.values())
        rough = p.load_rough(records["f1.png"].id)
        assert rough["wrinkle"].sum() == 16 and rough["wrinkle"][:4, :4].all()
        assert {h.user for h in p.history()} == {"erin"}


def test_relink_one_image_by_id(tmp_path, faces, capsys):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(faces), "-q"])
    moved = tmp_path / "elsewhere" / "renamed.png"
    moved.parent.mkdir()
    shutil.move(faces / "f2.png", moved)
    with Project.open(proj, read_only=True) as p:
        (image_id,) = [r.id for r in p.missing_images()]
    capsys.readouterr()
    assert main(["relink", str(proj), str(moved), "--image", str(image_id)]) == 0
    assert f"{image_id}: {moved}" in capsys.readouterr().out
    with Project.open(proj, read_only=True) as p:
        assert p.image(image_id).path == moved and p.missing_images() == []


def test_dataset_from_masks(tmp_path, faces, rng, capsys):
    rw = tmp_path / "rough_wrinkle"
    _png(rw / "f1.png", np.full((16, 20), 255, np.uint8))
    code = main(
        [
            "dataset",
            "from-masks",
            str(faces),
            str(rw),
            str(tmp_path / "rough_pore"),
            str(tmp_path / "ds"),
            "--pore-threshold",
            "2",
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "wrote 2 item(s)" in out and "skipped 2 image(s)" in out
    m = read_manifest(tmp_path / "ds")
    assert [i.id for i in m.items] == ["f0", "f1"] and m.gt_params["pore_threshold"] == 2.0


def test_failures_are_one_line_and_non_zero(tmp_path, capsys):
    assert main(["status", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error: ") and "catalog.sqlite is missing" in err
    assert err.count("\n") == 1
    main(["new", str(tmp_path / "p")])
    capsys.readouterr()
    assert main(["new", str(tmp_path / "q"), "--sigma", "-1"]) == 1
    assert "sigma must be in" in capsys.readouterr().err


def test_second_writer_gets_open_elsewhere_message(tmp_path, faces):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    with Project.open(proj):
        # A separate process, like a second SkinTrace on the same shared folder.
        result = subprocess.run(
            [sys.executable, "-m", "app", "import", str(proj), str(faces), "-q"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    assert result.returncode == 1
    assert "open in another SkinTrace" in result.stderr and "read-only" in result.stderr


# ----------------------------------------------------------------------------- bad input


def _header_only_png(path: Path, cols: int, rows: int) -> Path:
    """A PNG that declares ``cols × rows`` pixels but holds no pixel data (a bomb's header)."""
    data = b"\x89PNG\r\n\x1a\n"
    for kind, body in (
        (b"IHDR", struct.pack(">IIBBBBB", cols, rows, 8, 2, 0, 0, 0)),
        (b"IDAT", zlib.compress(bytes(64))),  # a sliver of the first row
        (b"IEND", b""),
    ):
        data += struct.pack(">I", len(body)) + kind + body
        data += struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(data)
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error: ") and err.count("\n") == 1, err
    return err


def test_import_skips_and_reports_image_over_pixel_limit(tmp_path, faces, capsys):
    from core.imageio import MAX_PIXELS

    huge = _header_only_png(faces / "huge.png", 12_000, 9_000)
    assert 12_000 * 9_000 > MAX_PIXELS
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    capsys.readouterr()
    assert main(["import", str(proj), str(faces), "-q"]) == 0
    out = capsys.readouterr()
    assert "added 4 image(s)" in out.out
    assert "skipped 1 unreadable, too small or too large image(s)" in out.out
    assert f"unreadable: {huge}: image is 12000×9000 = 108.0 MP, over the limit" in out.err
    with Project.open(proj, read_only=True) as p:
        assert sorted(r.name for r in p.images()) == [f"f{i}.png" for i in range(4)]
    assert huge.stat().st_size < 100  # only the header was read, never decoded


def test_import_reports_wrong_size_mask_and_keeps_the_image(tmp_path, faces, capsys):
    rough = tmp_path / "rough_wrinkle"
    _png(rough / "f1.png", np.full((4, 5), 255, np.uint8))  # the image is 20×16
    _png(rough / "f2.png", np.full((16, 20), 255, np.uint8))
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    capsys.readouterr()
    assert main(["import", str(proj), str(faces), "--rough-wrinkle", str(rough), "-q"]) == 0
    out = capsys.readouterr()
    assert "attached 1 wrinkle mask(s)" in out.out
    assert "1 mask file(s) could not be used" in out.out
    assert f"mask not used: {rough / 'f1.png'}: mask is 5×4 (cols×rows)" in out.err
    assert "its image is 20×16" in out.err
    with Project.open(proj, read_only=True) as p:
        by_name = {r.name: r for r in p.images()}
        assert by_name["f1.png"].status is Status.NEW
        assert not p.load_rough(by_name["f1.png"].id)["wrinkle"].any()
        assert p.load_rough(by_name["f2.png"].id)["wrinkle"].all()


def test_from_masks_bad_mask_or_huge_image_is_a_one_line_error(tmp_path, faces, capsys):
    rw, rp = tmp_path / "rw", tmp_path / "rough_pore"
    _png(rw / "f1.png", np.full((16, 21), 255, np.uint8))  # one column too many
    argv = ["dataset", "from-masks", str(faces), str(rw), str(rp), str(tmp_path / "ds"), "-q"]
    assert main(argv) == 1
    err = _one_line_error(capsys)
    assert str(rw / "f1.png") in err and "mask is 21×16" in err and "image is 20×16" in err
    _png(rw / "f1.png", np.full((16, 20), 255, np.uint8))
    _header_only_png(faces / "f3.png", 12_000, 9_000)
    _png(rp / "f3.png", np.full((16, 20), 255, np.uint8))
    assert main(argv) == 1
    err = _one_line_error(capsys)
    assert "f3.png" in err and "over the limit" in err and "not decoded" in err
    # Nothing that looks like a dataset (or a partial one) is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces", "rough_pore", "rw"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database" * 200, "is damaged"),
        (b"", "is empty or not a SkinTrace catalog"),
    ],
)
def test_broken_catalog_is_a_one_line_error(tmp_path, faces, capsys, content, message):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    catalog = proj / "catalog.sqlite"
    catalog.write_bytes(content)
    capsys.readouterr()
    for argv in (
        ["status", str(proj)],
        ["history", str(proj)],
        ["import", str(proj), str(faces), "-q"],
        ["export", str(proj), str(tmp_path / "ds"), "-q"],
    ):
        assert main(argv) == 1, argv
        err = _one_line_error(capsys)
        assert f"catalog {catalog} {message}" in err and "restore it from a backup" in err
    assert catalog.read_bytes() == content  # never "repaired" into a fresh catalog
    assert not (tmp_path / "ds").exists()


def test_export_on_full_disk_is_a_one_line_error(tmp_path, faces, capsys, monkeypatch):
    proj = tmp_path / "proj"
    main(["new", str(proj)])
    main(["import", str(proj), str(faces), "-q"])
    capsys.readouterr()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    assert main(["export", str(proj), str(tmp_path / "ds"), "--status", "new", "-q"]) == 1
    err = _one_line_error(capsys)
    assert f"disk full: cannot write the dataset to {tmp_path / 'ds'}" in err
    assert "free some space" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faces", "proj", "rough_pore"]


def test_agreement_and_consensus_export_on_two_annotators(tmp_path, faces, capsys, rng):
    proj = tmp_path / "p"
    assert main(["new", str(proj)]) == 0
    assert main(["import", str(proj), str(faces), "-q"]) == 0
    assert main(["agreement", str(proj), "-q"]) == 1  # nobody annotated twice yet
    assert "two or more annotators" in capsys.readouterr().err
    base = rng.random((16, 20)) > 0.6
    for user, extra in (("ann", (0, 0)), ("ben", (3, 4))):
        with Project.open(proj, user=user) as p:
            for r in p.images()[:2]:
                mask = base.copy()
                mask[extra] = True
                p.save_rough(r.id, {"wrinkle": mask, "pore": mask})
    with Project.open(proj, user="ben") as p:
        for r in p.images()[:2]:
            p.set_status(r.id, "submitted")
            p.set_status(r.id, "accepted")
    out_csv = tmp_path / "agree.csv"
    capsys.readouterr()
    assert main(["agreement", str(proj), "--csv", str(out_csv), "-q"]) == 0
    text = capsys.readouterr().out
    assert "ann / ben" in text and "f1@2" in text and f"wrote {out_csv}" in text
    rows = out_csv.read_text().splitlines()
    assert len(rows) == 1 + 2 * 2  # header + 2 images × 2 classes
    assert rows[1].split(",")[2:4] == ["ann", "ben"]
    ds = tmp_path / "ds"
    assert main(["export", str(proj), str(ds), "--consensus", "staple", "-q"]) == 0
    manifest = read_manifest(ds)
    assert len(manifest.items) == 2
    assert main(["agreement", str(proj), "--csv", str(tmp_path), "-q"]) == 1
    assert "is a folder" in capsys.readouterr().err
