"""Overlay buffers: numpy composition and region-only repaint into a QImage."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from app.gui.overlay import (
    GT_ALPHA_FLOOR,
    HATCH_PERIOD,
    ROUGH_TINT,
    OverlayImage,
    OverlayItem,
    compose_contours,
    compose_magnitudes,
    compose_masks,
    compose_rough,
    edges,
    magnitude_alpha,
    premultiplied,
)


def _argb(px: int) -> tuple[int, int, int, int]:
    return (px >> 24) & 255, (px >> 16) & 255, (px >> 8) & 255, px & 255


def test_compose_masks_later_class_on_top():
    a = np.zeros((4, 5), bool)
    b = np.zeros((4, 5), bool)
    a[1, 1:4] = True
    b[1, 3] = True
    out = compose_masks([a, b], ["#D55E00", "#56B4E9"])
    assert _argb(int(out[1, 1])) == (255, 0xD5, 0x5E, 0x00)
    assert _argb(int(out[1, 3])) == (255, 0x56, 0xB4, 0xE9)
    assert out[0, 0] == 0


def test_magnitude_alpha_zero_stays_transparent_and_grows():
    values = np.array([0, 1, 128, 255], np.uint8)
    alpha = magnitude_alpha(values)
    assert alpha[0] == 0
    assert 0 < alpha[1] < alpha[2] < alpha[3] == 255


def test_premultiplied_channels_never_exceed_alpha():
    alpha = np.arange(256, dtype=np.uint8)
    px = premultiplied("#E69F00", alpha)
    a = (px >> 24) & 255
    for shift in (16, 8, 0):
        assert np.all(((px >> shift) & 255) <= a)


def test_compose_magnitudes_uses_class_colour():
    gt = np.zeros((3, 3), np.uint8)
    gt[1, 1] = 255
    out = compose_magnitudes([gt, np.zeros_like(gt)], ["#D55E00", "#56B4E9"])
    assert _argb(int(out[1, 1])) == (255, 0xD5, 0x5E, 0x00)
    assert np.count_nonzero(out) == 1


def test_overlay_image_shares_numpy_memory():
    overlay = OverlayImage((6, 8))
    overlay.array[2, 5] = 0xFF112233
    assert QColor(overlay.qimage.pixel(5, 2)).name() == "#112233"
    assert overlay.qimage.width() == 8 and overlay.qimage.height() == 6


def test_overlay_item_paints_its_pixels(qapp):
    overlay = OverlayImage((10, 10))
    overlay.array[3:5, 6:8] = 0xFF0072B2
    scene = QGraphicsScene()
    item = OverlayItem(overlay)
    scene.addItem(item)
    target = QImage(10, 10, QImage.Format.Format_ARGB32)
    target.fill(QColor("black"))
    painter = QPainter(target)
    scene.render(painter, QRectF(0, 0, 10, 10), QRectF(0, 0, 10, 10))
    painter.end()
    assert QColor(target.pixel(6, 3)).name() == "#0072b2"
    assert QColor(target.pixel(0, 0)).name() == "#000000"
    item.update_region((slice(3, 5), slice(6, 8)))  # does not raise; schedules a repaint


def test_rough_is_outlined_and_hatched_with_a_faint_tint():
    mask = np.zeros((20, 24), bool)
    mask[4:16, 3:21] = True
    out = compose_rough([mask, np.zeros_like(mask)], ["#D55E00", "#56B4E9"])
    alpha = out >> 24
    assert np.all(alpha[~mask] == 0)
    outline = edges(mask)
    assert np.all(alpha[outline] == 255)  # a closed solid outline
    inside = mask & ~outline
    rows, cols = np.nonzero(inside)
    hatch = (rows + cols) % HATCH_PERIOD < 2
    assert np.all(alpha[rows[hatch], cols[hatch]] == 255)  # diagonal lines
    assert np.all(alpha[rows[~hatch], cols[~hatch]] == ROUGH_TINT)  # faint between them
    assert _argb(int(out[4, 3])) == (255, 0xD5, 0x5E, 0x00)


def test_rough_rendered_by_regions_matches_the_whole_image():
    rng = np.random.default_rng(3)
    mask = rng.random((30, 40)) > 0.6
    colors = ["#D55E00", "#56B4E9"]
    whole = compose_rough([mask, ~mask], colors)
    for r0, r1, c0, c1 in ((0, 10, 0, 12), (7, 30, 11, 40), (12, 13, 5, 6)):
        pr0, pr1, pc0, pc1 = max(0, r0 - 1), min(30, r1 + 1), max(0, c0 - 1), min(40, c1 + 1)
        ctx = [np.pad(m[pr0:pr1, pc0:pc1], 1, mode="edge") for m in (mask, ~mask)]
        part = compose_rough(ctx, colors, origin=(pr0, pc0), pad=1)
        np.testing.assert_array_equal(
            part[r0 - pr0 : r1 - pr0, c0 - pc0 : c1 - pc0], whole[r0:r1, c0:c1]
        )


def test_prediction_is_an_outline_outside_the_area_with_nothing_inside():
    area = np.zeros((24, 24), np.uint8)
    area[4:20, 4:20] = 200
    area[1, 1] = 255  # a one-pixel pore becomes a ring around it
    out = compose_contours([area, np.zeros_like(area)], ["#D55E00", "#56B4E9"])
    drawn = (out >> 24) > 0
    assert not drawn[area > 0].any()  # the predicted area itself stays clear
    assert drawn[3, 3:21].all() and drawn[20, 3:21].all() and drawn[3:21, 3].all()
    assert not drawn[6:18, 6:18].any() and not drawn[22:, :].any()
    assert drawn[0:3, 0:3].sum() == 8 and not drawn[1, 1]
    assert _argb(int(out[3, 10])) == (255, 0xD5, 0x5E, 0x00)


def test_gt_is_solid_even_where_weak():
    gt = np.array([[0, 1, 255]], np.uint8)
    out = compose_magnitudes([gt, np.zeros_like(gt)], ["#D55E00", "#56B4E9"], floor=GT_ALPHA_FLOOR)
    assert [int(v) >> 24 for v in out[0]] == [0, GT_ALPHA_FLOOR, 255]
