"""Active learning: the uncertainty measure and the order it gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.assist.active import (
    entropy_map,
    load_uncertainties,
    save_uncertainty,
    uncertainty,
    uncertainty_order,
)
from core.project import Project


def _binary_entropy(p: float) -> float:
    if p in (0.0, 1.0):
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def test_entropy_map_matches_the_formula_for_every_level():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    h = entropy_map(levels)
    assert h.dtype == np.float32 and h.shape == (16, 16)
    for k in (0, 1, 64, 127, 128, 200, 254, 255):
        assert h.flat[k] == pytest.approx(_binary_entropy(k / 255.0), abs=1e-6)
    assert h.max() == pytest.approx(_binary_entropy(127 / 255), abs=1e-6)
    assert h.max() > 0.9999 and h.min() == 0.0


def test_uncertainty_is_mean_entropy_over_both_classes(rng):
    w = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    p = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    expected = np.mean([_binary_entropy(v / 255.0) for v in np.concatenate([w.ravel(), p.ravel()])])
    assert uncertainty({"wrinkle": w, "pore": p}) == pytest.approx(expected, rel=1e-6)


def test_confident_and_baseline_maps_score_zero_undecided_score_one():
    zeros = np.zeros((8, 8), np.uint8)
    binary = np.where(np.eye(8, dtype=bool), 255, 0).astype(np.uint8)
    assert uncertainty({"wrinkle": zeros, "pore": binary}) == 0.0
    half = np.full((8, 8), 128, np.uint8)
    assert uncertainty({"wrinkle": half, "pore": half}) == pytest.approx(1.0, abs=1e-4)
    # more undecided pixels -> higher score
    some = zeros.copy()
    some[:2] = 128
    more = zeros.copy()
    more[:5] = 128
    assert uncertainty({"wrinkle": some, "pore": zeros}) < uncertainty(
        {"wrinkle": more, "pore": zeros}
    )


@pytest.mark.parametrize(
    "maps",
    [
        {"wrinkle": np.zeros((4, 4), np.uint8)},
        {"wrinkle": np.zeros((4, 4), np.uint8), "pore": np.zeros((4, 5), np.uint8)},
        {"wrinkle": np.zeros((4, 4), np.float32), "pore": np.zeros((4, 4), np.float32)},
    ],
)
def test_bad_maps_are_refused(maps):
    with pytest.raises(ValueError):
        uncertainty(maps)


def test_order_is_descending_stable_with_unscored_last():
    ids = [1, 2, 3, 4, 5, 6]
    scores = {1: 0.1, 2: 0.5, 3: None, 4: 0.5, 6: 0.9}
    assert uncertainty_order(ids, scores) == [6, 2, 4, 1, 3, 5]
    # all equal (baseline pre-labels): file order
    assert uncertainty_order(ids, dict.fromkeys(ids, 0.0)) == ids
    assert uncertainty_order([], {}) == []


def test_scores_round_trip_through_the_project(tmp_path):
    from core.imageio import save_png

    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        save_png(src / f"{i}.png", np.full((16, 16, 3), 40 + i, np.uint8))
    with Project.create(tmp_path / "p") as project:
        list(project.import_images(src))
        assert [r.id for r in project.images()] == [1, 2, 3, 4, 5]
        save_uncertainty(project, 3, 0.25, source="model:1:a")
        save_uncertainty(project, 4, 0.75, source="model:2:b")
        assert load_uncertainties(project, [3, 4, 5]) == {3: 0.25, 4: 0.75}
        assert load_uncertainties(project, [3, 4], source="model:2:b") == {4: 0.75}
