"""IoU (Eq. 4), Dice, precision, recall; empty cases; per-image mean vs pooled."""

from __future__ import annotations

import numpy as np
import pytest

from core.gt.metrics import (
    Counts,
    MetricAccumulator,
    class_counts,
    confusion,
    dice,
    iou,
    precision,
    recall,
)


def test_hand_computed_example():
    truth = np.zeros((4, 5), bool)
    truth[0, :4] = True  # 4 pixels
    pred = np.zeros((4, 5), bool)
    pred[0, 2:5] = True  # 3 pixels, 2 overlap
    assert confusion(truth, pred) == Counts(tp=2, fp=1, fn=2)
    assert iou(truth, pred) == pytest.approx(2 / 5)
    assert dice(truth, pred) == pytest.approx(4 / 7)
    assert precision(truth, pred) == pytest.approx(2 / 3)
    assert recall(truth, pred) == pytest.approx(2 / 4)


def test_magnitude_maps_count_nonzero_as_positive():
    truth = np.array([[0, 7], [255, 0]], np.uint8)
    pred = np.array([[1, 1], [0, 0]], np.uint8)
    assert confusion(truth, pred) == Counts(tp=1, fp=1, fn=1)


def test_empty_cases_are_defined():
    e = np.zeros((3, 3), bool)
    f = np.ones((3, 3), bool)
    assert iou(e, e) == 1.0 and dice(e, e) == 1.0
    assert precision(e, e) == 1.0 and recall(e, e) == 1.0
    assert iou(e, f) == 0.0 and dice(e, f) == 0.0 and precision(e, f) == 0.0
    assert recall(e, f) == 1.0  # nothing to find
    assert iou(f, e) == 0.0 and recall(f, e) == 0.0 and precision(f, e) == 1.0


def test_against_sklearn_style_reference(rng):
    for _ in range(5):
        t = rng.random((30, 40)) < 0.3
        p = rng.random((30, 40)) < 0.3
        inter, union = np.logical_and(t, p).sum(), np.logical_or(t, p).sum()
        assert iou(t, p) == pytest.approx(inter / union)
        assert dice(t, p) == pytest.approx(2 * inter / (t.sum() + p.sum()))
        # Dice and IoU are linked: D = 2J / (1 + J)
        j = iou(t, p)
        assert dice(t, p) == pytest.approx(2 * j / (1 + j))


def test_shape_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        iou(np.zeros((2, 3), bool), np.zeros((3, 2), bool))
    with pytest.raises(ValueError, match=r"\(M, N\)"):
        iou(np.zeros((2, 3, 2), bool), np.zeros((2, 3, 2), bool))
    with pytest.raises(ValueError, match="pore"):
        class_counts({"wrinkle": np.zeros((2, 2))}, {"wrinkle": np.zeros((2, 2))})


def test_per_image_mean_differs_from_pooled():
    big_t = np.zeros((10, 10), bool)
    big_t[:, :] = True
    big_p = big_t.copy()  # perfect on a large structure
    small_t = np.zeros((10, 10), bool)
    small_t[0, 0] = True
    small_p = np.zeros((10, 10), bool)  # misses a tiny one
    empty = np.zeros((10, 10), bool)
    acc = MetricAccumulator()
    acc.add({"wrinkle": big_t, "pore": empty}, {"wrinkle": big_p, "pore": empty})
    acc.add({"wrinkle": small_t, "pore": empty}, {"wrinkle": small_p, "pore": empty})
    assert len(acc) == 2
    assert acc.mean("wrinkle")["iou"] == pytest.approx(0.5)  # (1 + 0) / 2
    assert acc.pooled("wrinkle")["iou"] == pytest.approx(100 / 101)
    assert acc.mean("pore")["iou"] == 1.0 and acc.pooled("pore")["iou"] == 1.0
    summary = acc.summary()
    assert summary["wrinkle"]["mean"]["recall"] == pytest.approx(0.5)
    assert summary["wrinkle"]["global"]["precision"] == 1.0


def test_add_counts_and_empty_accumulator():
    acc = MetricAccumulator()
    assert np.isnan(acc.mean("pore")["iou"])
    assert np.isnan(acc.pooled("pore")["iou"])
    acc.add_counts({"wrinkle": Counts(1, 1, 0), "pore": Counts(0, 0, 2)})
    assert acc.pooled("wrinkle")["precision"] == 0.5 and acc.mean("pore")["recall"] == 0.0
    with pytest.raises(ValueError):
        acc.add_counts({"acne": Counts()})
