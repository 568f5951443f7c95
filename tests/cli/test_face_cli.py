"""skintrace report (project and dataset) and skintrace align."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from skimage import data

from app.cli import main
from core.face.align import load_transform
from core.imageio import load_image, save_png
from core.project import Project, Status

pytest.importorskip("dlib")


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "src"
    save_png(src / "astronaut.png", data.astronaut()[:300, 100:400])
    save_png(src / "blank.png", np.full((120, 160, 3), 200, np.uint8))
    root = tmp_path / "proj"
    with Project.create(root) as p:
        list(p.import_images(src))
        rec = next(r for r in p.images() if r.name == "astronaut.png")
        rough = np.zeros((300, 300), bool)
        rough[20:120, 60:240] = True  # forehead and hair
        p.save_rough(rec.id, {"wrinkle": rough, "pore": rough})
        p.set_status(rec.id, Status.SUBMITTED)
        p.set_status(rec.id, Status.ACCEPTED)
    return root


def test_report_on_a_project_and_on_its_exported_dataset(project, tmp_path, capsys):
    assert main(["report", str(project), "--out", str(tmp_path / "r1"), "-q", "--scale", "63mm"]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert "2 images measured" in out.out and "no face on 1 image" in out.err
    rows = list(csv.DictReader(open(tmp_path / "r1" / "measurements.csv")))
    zones = {r["zone"] for r in rows if r["image"] == "astronaut.png"}
    assert {"forehead", "cheek_left", "butterfly", "whole_image"} <= zones
    assert {r["unit"] for r in rows if r["image"] == "astronaut.png"} == {"mm"}
    assert (tmp_path / "r1" / "report.html").stat().st_size > 1000
    assert main(["export", str(project), str(tmp_path / "ds"), "-q"]) == 0
    assert main(["report", str(tmp_path / "ds"), "--out", str(tmp_path / "r2"), "-q"]) == 0
    rows2 = list(csv.DictReader(open(tmp_path / "r2" / "measurements.csv")))
    assert {r["unit"] for r in rows2} == {"px"} and any(r["zone"] == "forehead" for r in rows2)
    whole1 = next(r for r in rows if r["image"] == "astronaut.png" and r["zone"] == "whole_image")
    whole2 = next(r for r in rows2 if r["zone"] == "whole_image")
    assert whole1["pore_count"] == whole2["pore_count"]  # same GT either way


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skintrace: error:") and err.count("\n") == 1


def test_align_writes_crops_and_transforms_and_maps_back(tmp_path, capsys):
    photos = tmp_path / "photos"
    save_png(photos / "a.png", data.astronaut())
    save_png(photos / "sub" / "blank.png", np.full((100, 100, 3), 90, np.uint8))
    assert main(["align", str(photos), "--out", str(tmp_path / "al"), "--size", "384x320", "-q"]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert "1 photos aligned" in out.out and "skipped sub/blank.png: no face" in out.err
    crop = load_image(tmp_path / "al" / "crops" / "a.png").pixels
    assert crop.shape == (320, 384, 3)
    t, original = load_transform(tmp_path / "al" / "transforms" / "a.json")
    assert original.endswith("a.png") and t.original_shape == (512, 512)
    eyes = t.to_crop(np.array([[102.0, 203.5], [104.5, 246.5]]))
    assert np.abs(eyes[:, 0] - 0.42 * 320).max() < 6  # the eye line lands on the frame's
    assert main(["align", str(photos), "--out", str(tmp_path / "x"), "--size", "big", "-q"]) == 1


def test_import_with_alignment_and_export_in_both_coordinates(tmp_path, capsys):
    import cv2

    from core.dataset import read_manifest

    photos = tmp_path / "photos"
    big = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_LINEAR)
    save_png(photos / "a.png", big)
    save_png(photos / "blank.png", np.full((100, 100, 3), 90, np.uint8))
    root = tmp_path / "proj"
    assert main(["new", str(root)]) == 0
    assert main(["import", str(root), str(photos), "--align", "384x320", "-q"]) == 0
    assert "not aligned, not imported: blank.png" in capsys.readouterr().err
    with Project.open(root) as p:
        (rec,) = p.images()
        assert (rec.rows, rec.cols) == (320, 384) and (photos / "a.png").exists()
        rough = np.zeros((320, 384), bool)
        rough[40:100, 60:300] = True
        p.save_rough(rec.id, {"wrinkle": rough, "pore": np.zeros_like(rough)})
        p.set_status(rec.id, Status.SUBMITTED)
        p.set_status(rec.id, Status.ACCEPTED)
    assert main(["export", str(root), str(tmp_path / "crop"), "-q"]) == 0
    assert main(["export", str(root), str(tmp_path / "orig"), "--coords", "original", "-q"]) == 0
    crop, orig = read_manifest(tmp_path / "crop"), read_manifest(tmp_path / "orig")
    assert load_image(crop.items[0].image).pixels.shape == (320, 384, 3)
    assert load_image(orig.items[0].image).pixels.shape == (1024, 1024, 3)
    index = list(csv.DictReader(open(tmp_path / "orig" / "index.csv")))
    assert (index[0]["rows"], index[0]["cols"]) == ("1024", "1024")
    t, _ = load_transform(root / "aligned" / "transforms" / "a.json")
    crop_rough = load_image(crop.items[0].rough["wrinkle"]).pixels[..., 0] > 0
    back = load_image(orig.items[0].rough["wrinkle"]).pixels[..., 0] > 0
    assert (crop_rough == rough).all()
    # the mask on the photo is the crop's mask carried back: re-cropped it matches to 1 px
    again = t.crop_map(back)
    assert np.abs(again.sum() - rough.sum()) <= 0.02 * rough.sum()
    assert (again & ~cv2.dilate(rough.astype(np.uint8), np.ones((3, 3))).astype(bool)).sum() == 0


def test_import_finds_the_faces_of_new_images_unless_no_faces(tmp_path, capsys):
    from core.face.store import face_file, load_face

    photos = tmp_path / "photos"
    save_png(photos / "astronaut.png", data.astronaut()[::2, ::2])
    save_png(photos / "blank.png", np.full((120, 160, 3), 200, np.uint8))
    root = tmp_path / "proj"
    assert main(["new", str(root)]) == 0
    assert main(["import", str(root), str(photos), "-q"]) == 0
    assert "faces of 2 image(s) found (1 found, 1 none)" in capsys.readouterr().out
    with Project.open(root, read_only=True) as p:
        recs = {r.name: r for r in p.images()}
    astro = load_face(root, recs["astronaut.png"].id, content_hash=recs["astronaut.png"].content_hash)  # fmt: skip
    assert astro is not None and astro.state == "found"
    assert load_face(root, recs["blank.png"].id).state == "none"

    root2 = tmp_path / "proj2"
    assert main(["new", str(root2)]) == 0
    assert main(["import", str(root2), str(photos), "-q", "--no-faces"]) == 0
    assert "faces of" not in capsys.readouterr().out
    assert not any(face_file(root2, i).exists() for i in (1, 2))
    assert not (root2 / "faces").exists() or not any((root2 / "faces").iterdir())


def test_import_without_dlib_warns_in_one_line_and_imports(tmp_path, capsys, monkeypatch):
    from core.face import landmarks

    def no_dlib():
        raise landmarks.LandmarkerUnavailable("face landmarks need dlib; install dlib-bin")

    monkeypatch.setattr(landmarks, "_dlib", no_dlib)
    monkeypatch.setattr(landmarks, "_CACHE", {})
    photos = tmp_path / "photos"
    save_png(photos / "astronaut.png", data.astronaut()[::4, ::4])
    root = tmp_path / "proj"
    assert main(["new", str(root)]) == 0
    assert main(["import", str(root), str(photos), "-q"]) == 0
    out = capsys.readouterr()
    assert "added 1 image(s)" in out.out
    assert out.err == "warning: faces not found: face landmarks need dlib; install dlib-bin\n"
    assert not (root / "faces").exists() or not any((root / "faces").iterdir())
