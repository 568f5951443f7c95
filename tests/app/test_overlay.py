"""Overlay buffers: numpy composition and region-only repaint into a QImage."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from app.gui.overlay import (
    OverlayImage,
    OverlayItem,
    compose_magnitudes,
    compose_masks,
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
