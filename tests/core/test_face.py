"""core.face: landmarks (dlib, offline), zones, storage, alignment, zone prior."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from skimage import data

from core.face import (
    FaceError,
    LandmarkerUnavailable,
    Scale,
    apply_zone_prior,
    detect_faces,
    face_from_box,
    face_from_points,
    load_face,
    manual_result,
    parse_scale,
    save_face,
    zone_masks,
    zone_polygons,
)
from core.face.align import alignment_for, load_transform, save_transform
from core.face.landmarks import layout_face
from core.face.zones import CLASS_ZONES, UNIONS, ZONES

ASTRONAUT_EYES = ((102.0, 203.5), (104.5, 246.5))  # measured by hand on the 512×512 image


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_faces(astronaut):
    pytest.importorskip("dlib")
    return detect_faces(astronaut)


def test_astronaut_face_found_with_eyes_and_nose_in_place(astronaut_faces):
    r = astronaut_faces
    assert r.state == "found" and len(r.faces) == 1 and r.shape == (512, 512)
    f = r.face
    assert f.source == "dlib5" and len(f.points) == 5
    for got, want in zip((f.right_eye, f.left_eye), ASTRONAUT_EYES, strict=True):
        assert np.hypot(got[0] - want[0], got[1] - want[1]) < 4
    assert 125 < f.nose[0] < 145 and 215 < f.nose[1] < 235  # nose base below the eyes


def test_no_face_and_several_faces_are_clear_states(astronaut):
    pytest.importorskip("dlib")
    blank = np.full((200, 300, 3), 180, np.uint8)
    r = detect_faces(blank)
    assert r.state == "none" and r.face is None and "by hand" in r.message
    two = np.hstack([astronaut[:300, 100:360], astronaut[:300, 100:360]])
    r2 = detect_faces(two)
    assert r2.state == "several" and len(r2.faces) == 2 and "2 faces" in r2.message


def test_large_photo_is_detected_on_a_reduced_copy_and_fitted_full_size(astronaut):
    pytest.importorskip("dlib")
    import cv2

    big = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    f = detect_faces(big, max_side=512).face
    assert f is not None
    assert np.hypot(f.right_eye[0] - 4 * 102.0, f.right_eye[1] - 4 * 203.5) < 12


def test_missing_dlib_gives_one_clear_line(monkeypatch, astronaut):
    import core.face.landmarks as lm

    monkeypatch.setitem(sys.modules, "dlib", None)
    monkeypatch.setattr(lm, "_CACHE", {})
    with pytest.raises(LandmarkerUnavailable, match="dlib-bin.*by hand"):
        detect_faces(astronaut)


def test_bad_image_is_refused():
    with pytest.raises(FaceError, match="uint8"):
        detect_faces(np.zeros((10, 10), np.float32))


def test_profile_is_told_by_the_nose_offset():
    front = face_from_points((100, 100), (100, 200), (170, 150))
    turned = face_from_points((100, 100), (100, 200), (170, 195))
    assert abs(front.yaw) < 0.01 and turned.yaw > 0.33


def test_manual_fallbacks_points_and_box():
    with pytest.raises(FaceError, match="apart"):
        face_from_points((10, 10), (10, 10.5), (40, 10))
    with pytest.raises(FaceError, match="too small"):
        face_from_box(0, 0, 3, 3)
    f = face_from_box(76, 175, 166, 265)  # the astronaut's dlib box
    for got, want in zip((f.right_eye, f.left_eye), ASTRONAUT_EYES, strict=True):
        assert np.hypot(got[0] - want[0], got[1] - want[1]) < 8  # a rough placement
    r = manual_result(f, (512, 512))
    assert r.state == "manual" and r.face == f


def test_zones_are_disjoint_ordered_and_mirrored():
    f = face_from_points((300, 300), (300, 500), (444, 400))
    masks = zone_masks(f, (800, 800))
    parts = [masks[z] for z in ZONES]
    assert (np.sum(parts, axis=0) <= 1).all()  # disjoint
    assert all(m.any() for m in parts)

    def centre(z):
        return np.argwhere(masks[z]).mean(0)

    assert centre("forehead")[0] < centre("glabella")[0] < centre("nose")[0]
    assert centre("crows_feet_right")[1] < 300 < 500 < centre("crows_feet_left")[1]
    assert centre("under_eye_right")[0] > 300 and centre("cheek_right")[0] > centre("under_eye_right")[0]  # fmt: skip
    for a, b in (("cheek_right", "cheek_left"), ("crows_feet_right", "crows_feet_left")):
        assert abs(int(masks[a].sum()) - int(masks[b].sum())) <= 0.03 * masks[a].sum()
    for union, members in UNIONS.items():
        assert (masks[union] == np.logical_or.reduce([masks[z] for z in members])).all()


def test_zones_follow_a_rotated_face():
    f = face_from_points((300, 300), (300, 500), (444, 400))
    g = face_from_points((400, 300), (200, 300), (300, 444))  # turned 90°: eyes vertical
    pf, pg = zone_polygons(f)["forehead"], zone_polygons(g)["forehead"]
    assert pf[:, 0].mean() < 300  # above the eyes
    assert pg[:, 1].mean() < 300  # left of the (vertical) eye line


def test_face_file_round_trip_stale_and_corrupt(tmp_path):
    f = face_from_points((100, 100), (100, 200), (170, 150))
    save_face(tmp_path, 7, manual_result(f, (300, 300)), content_hash="abc")
    back = load_face(tmp_path, 7, content_hash="abc")
    assert back is not None and back.state == "manual" and back.face == f
    assert load_face(tmp_path, 7, content_hash="changed") is None
    assert load_face(tmp_path, 8) is None
    path = tmp_path / "faces" / "7.json"
    assert json.loads(path.read_text())["format_version"] == 1
    path.write_text("{not json")
    with pytest.raises(FaceError, match="corrupt"):
        load_face(tmp_path, 7)


def test_scale_parsing_and_use():
    f = face_from_points((100, 100), (100, 226), (170, 163))
    assert parse_scale("12.5 px/mm") == Scale(px_per_mm=12.5)
    assert parse_scale("63mm").for_face(f) == pytest.approx(2.0)
    assert Scale().for_face(f) is None
    with pytest.raises(FaceError, match="px/mm"):
        parse_scale("big")
    with pytest.raises(FaceError, match="positive"):
        Scale(px_per_mm=-1)


# -- alignment ---------------------------------------------------------------------


def test_alignment_puts_the_eyes_on_the_paper_frame():
    f = face_from_points((1000, 2000), (900, 3200), (1800, 2700))
    t = alignment_for(f, (4000, 6000))
    eyes = t.to_crop(np.array([f.right_eye, f.left_eye]))
    assert np.allclose(eyes, [[0.42 * 640, 384 - 0.21 * 768], [0.42 * 640, 384 + 0.21 * 768]])
    assert t.crop_shape == (640, 768) and t.original_shape == (4000, 6000)


def test_round_trip_crop_to_original_is_exact_to_one_pixel():
    import cv2

    rng = np.random.default_rng(3)
    f = face_from_points((410, 380), (380, 720), (650, 560))
    t = alignment_for(f, (1200, 1100))
    pts = rng.uniform(0, 640, size=(200, 2))
    assert np.abs(t.to_crop(t.to_original(pts)) - pts).max() < 1e-9
    crop_mask = np.zeros((640, 768), np.uint8)
    cv2.line(crop_mask, (100, 100), (600, 380), 1, 3)
    cv2.circle(crop_mask, (400, 500), 20, 1, -1)
    back = t.map_back(crop_mask.astype(bool))
    assert back.shape == (1200, 1100) and back.any()
    # every original-photo pixel marked lies within 1 crop pixel of a marked crop pixel
    dist = cv2.distanceTransform((crop_mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
    rc = np.argwhere(back)
    in_crop = t.to_crop(rc)
    idx = np.clip(np.rint(in_crop).astype(int), 0, [639, 767])
    assert dist[idx[:, 0], idx[:, 1]].max() <= 1.0
    again = t.crop_map(back)
    assert (again & ~crop_mask.astype(bool)).sum() <= 0.02 * crop_mask.sum()


def test_crop_image_and_transform_file(tmp_path, astronaut):
    f = face_from_points(*ASTRONAUT_EYES, (135.0, 224.0))
    t = alignment_for(f, astronaut.shape[:2], crop_shape=(320, 384))
    crop = t.crop_image(astronaut)
    assert crop.shape == (320, 384, 3) and crop.dtype == np.uint8
    save_transform(tmp_path / "a.json", t, original="/x/a.png", face=f)
    t2, orig = load_transform(tmp_path / "a.json")
    assert t2 == t and orig == "/x/a.png"
    with pytest.raises(FaceError, match="too small"):
        alignment_for(f, astronaut.shape[:2], crop_shape=(8, 8))


def test_downscaling_crop_is_area_filtered():
    f = face_from_points((1000, 1000), (1000, 3000), (1700, 2000))
    img = np.zeros((3000, 4000, 3), np.uint8)
    img[::2] = 255  # a 1-px stripe pattern: aliasing would show stripes, area filtering grey
    crop = alignment_for(f, img.shape[:2]).crop_image(img)
    inner = crop[100:500, 100:600, 0].astype(float)
    assert 100 < inner.mean() < 155 and inner.std() < 40


# -- zone prior ------------------------------------------------------------------


def test_zone_prior_drops_pre_labels_outside_their_zones():
    f = layout_face((640, 768))
    zones = zone_masks(f, (640, 768), unions=False)
    maps = {"wrinkle": np.full((640, 768), 200, np.uint8), "pore": np.full((640, 768), 90, np.uint8)}  # fmt: skip
    out = apply_zone_prior(maps, f)
    for cls, names in CLASS_ZONES.items():
        inside = np.logical_or.reduce([zones[z] for z in names])
        assert (out[cls][inside] == maps[cls][inside]).all() and (out[cls][~inside] == 0).all()
    assert (maps["wrinkle"] == 200).all()  # inputs untouched
    same = apply_zone_prior(maps, None)
    assert all((same[c] == maps[c]).all() for c in maps)


def test_zone_prior_option_in_prelabels_is_off_by_default(tmp_path):
    from core.assist.prelabel import baseline_source, prelabel_images
    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    save_png(tmp_path / "src" / "f.png", make_face(1, shape=(160, 192)).image)
    with Project.create(tmp_path / "p") as project:
        list(project.import_images(tmp_path / "src"))
        (rec,) = project.images()
        face = layout_face((160, 192))
        save_face(project.root, rec.id, manual_result(face, (160, 192)), content_hash=rec.content_hash)  # fmt: skip

        def full(image):
            return {c: np.full(image.shape[:2], 200, np.uint8) for c in ("wrinkle", "pore")}

        def run():
            project.clear_prelabel(rec.id)
            if project.image(rec.id).status != "new":
                project.set_status(rec.id, "new")
            list(prelabel_images(project, [rec.id], source=baseline_source(), predict=full))
            return project.load_prelabel(rec.id)[0]

        off = run()
        assert all((m == 200).all() for m in off.values())
        project.set_setting("faces.zone_prior", True)
        on = run()
        zones = zone_masks(face, (160, 192), unions=False)
        pore_zone = zones["nose"] | zones["cheek_right"] | zones["cheek_left"]
        assert (on["pore"][pore_zone] == 200).all() and (on["pore"][~pore_zone] == 0).all()
        assert 0 < (on["wrinkle"] > 0).mean() < 0.6
