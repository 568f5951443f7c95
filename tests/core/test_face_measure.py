"""Per-zone measurements and the report, checked against generated faces with known truth."""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest

from core.face import Scale, face_from_points, measure_image, skeleton_length, zone_masks
from core.face.report import WHOLE, ReportItem, write_report

SHAPE = (480, 560)
FACE = face_from_points((180, 180), (180, 380), (324, 280))  # eye distance 200 px


def generated_face(seed: int):
    """Known wrinkles (straight lines of known length, width 3, depth 120) on the forehead
    and known pores (discs of radius 3) on the right cheek."""
    rng = np.random.default_rng(seed)
    zones = zone_masks(FACE, SHAPE)
    wrinkle = np.zeros(SHAPE, np.uint8)
    lengths = []
    for i in range(3):
        row = 60 + 18 * i
        c0, length = 200 + rng.integers(0, 20), 80 + 20 * i
        cv2.line(wrinkle, (int(c0), row), (int(c0 + length), row), 120, 2)  # OpenCV: 3 px wide
        lengths.append(length)
    assert (zones["forehead"][wrinkle > 0]).all()
    pore = np.zeros(SHAPE, np.uint8)
    ys, xs = np.nonzero(cv2.erode(zones["cheek_right"].astype(np.uint8), np.ones((9, 9))))
    n_pores, placed = int(rng.integers(8, 15)), []
    for k in rng.permutation(len(ys)):
        p = (int(xs[k]), int(ys[k]))
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) > 10 for q in placed):
            placed.append(p)
            cv2.circle(pore, p, 3, 200, -1)
        if len(placed) == n_pores:
            break
    return {"wrinkle": wrinkle, "pore": pore}, sum(lengths), n_pores, zones


@pytest.mark.parametrize("seed", [0, 1])
def test_known_wrinkle_length_width_depth_and_pore_count(seed):
    maps, length, n_pores, zones = generated_face(seed)
    rows = {m.zone: m for m in measure_image(maps, zones)}
    fh = rows["forehead"]
    assert fh.wrinkle_length == pytest.approx(length, rel=0.05)
    assert fh.wrinkle_width == pytest.approx(3.0, rel=0.15)
    assert fh.wrinkle_depth == pytest.approx(120.0)
    area = (maps["wrinkle"] > 0).sum()
    assert fh.wrinkle_area_pct == pytest.approx(100 * area / zones["forehead"].sum())
    ck = rows["cheek_right"]
    assert ck.pore_count == n_pores and rows["cheek_left"].pore_count == 0
    assert ck.pore_area == pytest.approx(np.pi * 3**2, rel=0.1)
    assert ck.pore_density == pytest.approx(n_pores / zones["cheek_right"].sum() * 1e4)
    assert rows["butterfly"].pore_count == n_pores and rows["t_zone"].wrinkle_length == pytest.approx(fh.wrinkle_length)  # fmt: skip
    assert rows["glabella"].wrinkle_length == 0 and math.isnan(rows["glabella"].wrinkle_width)


def test_millimetres_with_a_scale():
    maps, length, n_pores, zones = generated_face(0)
    px = {m.zone: m for m in measure_image(maps, zones)}
    mm = {m.zone: m for m in measure_image(maps, zones, px_per_mm=Scale(interocular_mm=50).for_face(FACE))}  # fmt: skip
    # 200 px between the eyes = 50 mm: 4 px per mm
    assert mm["forehead"].unit == "mm" and px["forehead"].unit == "px"
    assert mm["forehead"].wrinkle_length == pytest.approx(px["forehead"].wrinkle_length / 4)
    assert mm["forehead"].wrinkle_width == pytest.approx(px["forehead"].wrinkle_width / 4)
    assert mm["cheek_right"].pore_area == pytest.approx(px["cheek_right"].pore_area / 16)
    cm2 = zones["cheek_right"].sum() / 16 / 100
    assert mm["cheek_right"].pore_density == pytest.approx(n_pores / cm2)
    assert mm["forehead"].wrinkle_area_pct == pytest.approx(px["forehead"].wrinkle_area_pct)


@pytest.mark.parametrize("angle", [0, 17, 45, 71])
def test_skeleton_length_of_slanted_lines(angle):
    m = np.zeros((300, 300), np.uint8)
    a = np.deg2rad(angle)
    p1 = (int(round(30 + 220 * np.cos(a))), int(round(30 + 220 * np.sin(a))))
    cv2.line(m, (30, 30), p1, 1, 3)
    true = math.hypot(p1[0] - 30, p1[1] - 30)
    assert skeleton_length(m > 0) == pytest.approx(true, rel=0.035)
    assert skeleton_length(np.zeros((5, 5), bool)) == 0


def test_report_csv_and_html(tmp_path):
    items = []
    truth = {}
    for seed in range(3):
        maps, length, n_pores, _ = generated_face(seed)
        image = np.full((*SHAPE, 3), 170, np.uint8)
        items.append(ReportItem(f"face{seed}", image, {"gt": maps}, FACE, "manual"))
        truth[f"face{seed}"] = (length, n_pores)
    items.append(ReportItem("noface", np.full((*SHAPE, 3), 170, np.uint8), {"gt": maps}, None, "none"))  # fmt: skip
    steps = list(write_report(iter(items), tmp_path / "out", total=4))
    assert [p.done for p in steps] == [1, 2, 3, 4, 4]
    info = steps[-1].info
    assert info["images"] == 4 and info["no_face"] == ["noface"]
    rows = list(csv.DictReader(open(tmp_path / "out" / "measurements.csv")))
    by = {(r["image"], r["zone"]): r for r in rows}
    for name, (length, n_pores) in truth.items():
        assert float(by[(name, "forehead")]["wrinkle_length"]) == pytest.approx(length, rel=0.05)
        assert int(by[(name, "cheek_right")]["pore_count"]) == n_pores
    assert {r["zone"] for r in rows if r["image"] == "noface"} == {WHOLE}
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and page.count("<svg") == 7
    assert page.count("<h3>") == 14  # a table per zone: 11 zones, 2 unions, the whole image
    assert "Crow&#x27;s feet R" in page and "No face on 1 image" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # self-contained
