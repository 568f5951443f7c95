"""Wrinkle centreline snapping on generated lines: position, width, fallback, polyline."""

from __future__ import annotations

import numpy as np
import pytest

from core.gt.document import AnnotationDocument, DocumentError
from core.gt.engine import GTParams
from core.gt.metrics import iou
from core.tools.snap import (
    WIDTH_PER_SIGMA,
    CentrelineSnapper,
    SnapError,
    ridge_strength,
    snap_polyline,
)


def _rgb(gray: np.ndarray) -> np.ndarray:
    g = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def _vertical_line(width: int, col: int = 40, shape=(60, 80), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gray = np.full(shape, 200.0) + rng.normal(0, 1.0, shape)
    gray[:, col : col + width] -= 50
    return gray


@pytest.mark.parametrize("width", [1, 2, 3, 5])
def test_estimated_width_follows_the_line(width):
    strength, sigma = ridge_strength(_vertical_line(width).astype(np.float32))
    c = int(np.argmax(strength[30]))
    assert 40 <= c <= 40 + width - 1
    estimate = WIDTH_PER_SIGMA * float(sigma[30, c])
    assert width / 2 <= estimate <= max(2 * width, 2.0)


def test_pointer_beside_a_line_snaps_onto_it_with_a_ridge_sized_radius():
    snapper = CentrelineSnapper(_rgb(_vertical_line(2)), corridor=5, margin=1.0)
    p = snapper.snap(30.0, 36.5)  # 3.5 px left of the line
    assert p.snapped and p.row == 30 and p.col in (40.0, 41.0)
    assert 1.0 < p.radius < 4.0  # half of a ~2-3 px width plus the margin
    wide = CentrelineSnapper(_rgb(_vertical_line(5)), corridor=5, margin=1.0).snap(30, 37)
    assert wide.snapped and wide.radius > p.radius


def test_no_ridge_in_the_corridor_keeps_the_pointer_and_the_brush_radius():
    snapper = CentrelineSnapper(_rgb(_vertical_line(2)), corridor=5, fallback_radius=4.0)
    p = snapper.snap(30.0, 20.0)  # 20 px from the line
    assert not p.snapped and (p.row, p.col, p.radius) == (30.0, 20.0, 4.0)


def test_round_pores_do_not_attract_the_stroke():
    gray = np.full((40, 40), 200.0)
    rr, cc = np.ogrid[:40, :40]
    gray -= 60 * np.exp(-((rr - 20) ** 2 + (cc - 22) ** 2) / (2 * 1.5**2))
    strength, _ = ridge_strength(gray.astype(np.float32))
    line, _ = ridge_strength(_vertical_line(3).astype(np.float32))
    assert strength[20, 22] < 0.5 * line[30].max()


def test_the_nearer_of_two_ridges_wins():
    gray = _vertical_line(2, col=30)
    gray[:, 38:40] -= 50
    snapper = CentrelineSnapper(_rgb(gray), corridor=6)
    assert snapper.snap(30, 32).col in (30.0, 31.0)
    assert snapper.snap(30, 37).col in (38.0, 39.0)


def test_snapped_polyline_stroke_paints_the_wrinkle_as_one_undo_step():
    gray = np.full((80, 100), 200.0) + np.random.default_rng(1).normal(0, 1, (80, 100))
    truth = np.zeros((80, 100), bool)
    rows = np.arange(10, 70)
    cols = (30 + 0.25 * (rows - 10)).astype(int)  # a slanted 2-px line
    for r, c in zip(rows, cols, strict=True):
        gray[r, c : c + 2] -= 60
        truth[r, c : c + 2] = True
    image = _rgb(gray)
    doc = AnnotationDocument(image, params=GTParams(sigma=3.0))
    # Clicked vertices 3 px off the line: each segment still snaps to it.
    points = snap_polyline(
        CentrelineSnapper(image, corridor=5), [(10, 27), (40, 34.5), (69, 41)], step=2
    )
    assert sum(p.snapped for p in points) >= 0.9 * len(points)
    doc.begin_stroke("wrinkle", radius=3)
    for p in points:
        doc.stroke_to(p.row, p.col, radius=p.radius)
    doc.end_stroke()
    assert len(doc.history) == 1
    rough = doc.rough("wrinkle")
    assert rough[truth].mean() > 0.95  # the whole line is covered...
    assert rough.sum() < 5 * truth.sum()  # ...by a thin rough mask, not a fat one
    assert iou(truth, doc.gt("wrinkle")) > 0.6
    doc.undo()
    assert not doc.rough("wrinkle").any()


def test_bad_inputs():
    image = _rgb(_vertical_line(2))
    with pytest.raises(SnapError, match="corridor"):
        CentrelineSnapper(image, corridor=0)
    with pytest.raises(SnapError, match="scales"):
        CentrelineSnapper(image, sigmas=())
    with pytest.raises(SnapError, match="finite"):
        CentrelineSnapper(image).snap(float("inf"), 0)
    with pytest.raises(SnapError, match="at least one"):
        snap_polyline(CentrelineSnapper(image), [])
    doc = AnnotationDocument(image, params=GTParams())
    doc.begin_stroke("wrinkle", radius=2)
    with pytest.raises(DocumentError, match="radius"):
        doc.stroke_to(1, 1, radius=0)
