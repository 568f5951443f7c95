"""Tolerant scores for thin structures: clDice and precision/recall/F1 within k px."""

from __future__ import annotations

import numpy as np
import pytest

from core.gt.metrics import (
    MetricAccumulator,
    ThinCounts,
    cldice,
    iou,
    thin_counts,
    thin_score_names,
    tolerant_f1,
)


def _line(width: int, row: int, shape: tuple[int, int] = (40, 60)) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[row : row + width, 5:55] = True
    return m


def test_two_px_line_shifted_by_one_px():
    truth = _line(2, 10)
    pred = _line(2, 11)
    assert iou(truth, pred) == pytest.approx(1 / 3)  # IoU calls it mostly a miss
    c = thin_counts(truth, pred, tolerances=(0, 1, 2))
    # k = 0 is the plain pixel precision/recall: half of each line overlaps.
    assert c.precision_at(0) == pytest.approx(0.5) and c.recall_at(0) == pytest.approx(0.5)
    for k in (1, 2):  # every pixel is 1 px from the other line
        assert c.precision_at(k) == 1.0 and c.recall_at(k) == 1.0 and c.f1_at(k) == 1.0


def test_tolerance_counts_a_shift_of_k_pixels_only_from_k_on():
    truth = _line(1, 10)
    pred = _line(1, 13)  # 3 px away
    c = thin_counts(truth, pred)
    assert c.f1_at(1) == 0.0 and c.f1_at(2) == 0.0 and c.f1_at(3) == 1.0
    # Diagonal distance is Euclidean: a pixel at (1, 1) is sqrt(2) > 1 away.
    t = np.zeros((5, 5), bool)
    t[1, 1] = True
    p = np.zeros((5, 5), bool)
    p[2, 2] = True
    d = thin_counts(t, p, tolerances=(1, 2))
    assert d.f1_at(1) == 0.0 and d.f1_at(2) == 1.0


def test_half_found_line_has_known_recall():
    truth = _line(1, 10)
    pred = np.zeros_like(truth)
    pred[10, 5:30] = True  # the left half of the 50-px line
    c = thin_counts(truth, pred, tolerances=(1,))
    assert c.precision_at(1) == 1.0
    # 25 pixels found exactly, plus the one right of the end lies 1 px away.
    assert c.recall_at(1) == pytest.approx(26 / 50)


def test_cldice_forgives_a_shift_that_keeps_centrelines_inside():
    truth = _line(3, 10)
    inside = _line(3, 11)  # centrelines lie in each other's mask
    outside = _line(3, 20)
    assert iou(truth, inside) == pytest.approx(0.5)
    assert cldice(truth, inside) > 0.9
    assert cldice(truth, outside) == 0.0
    assert cldice(truth, truth) == 1.0
    # A thicker prediction around the true centreline keeps clDice perfect, IoU does not.
    thick = _line(7, 8)
    assert cldice(truth, thick) == pytest.approx(1.0, abs=0.05)
    assert iou(truth, thick) == pytest.approx(3 / 7)


def test_empty_cases():
    e = np.zeros((6, 6), bool)
    f = _line(2, 2, (6, 60))[:, :6]
    assert cldice(e, e) == 1.0 and tolerant_f1(e, e, 2) == 1.0
    assert tolerant_f1(f, e, 1) == 0.0 and tolerant_f1(e, f, 1) == 0.0
    assert cldice(f, e) == 0.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="differ in shape"):
        thin_counts(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=">= 0"):
        thin_counts(np.zeros((2, 2)), np.zeros((2, 2)), tolerances=(-1,))
    with pytest.raises(ValueError, match="tolerances"):
        _ = ThinCounts((1,), (0,), (0,)) + ThinCounts((2,), (0,), (0,))


def test_accumulator_pools_thin_counts_and_reports_them_next_to_iou():
    truth = {"wrinkle": _line(2, 10), "pore": np.zeros((40, 60), bool)}
    pred = {"wrinkle": _line(2, 11), "pore": np.zeros((40, 60), bool)}
    acc = MetricAccumulator()
    acc.add(truth, pred)
    acc.add(truth, truth)
    pooled = acc.pooled("wrinkle")
    assert set(thin_score_names()) <= set(pooled)
    assert pooled["f1@1"] == 1.0
    assert pooled["iou"] == pytest.approx((100 + 200) / (300 + 200))
    assert acc.mean("wrinkle")["precision@1"] == 1.0
    assert acc.summary()["pore"]["global"]["cldice"] == 1.0
    # Without thin counts the plain scores stay as they were.
    plain = MetricAccumulator(thin=False)
    plain.add(truth, pred)
    assert "f1@1" not in plain.pooled("wrinkle")
