"""Count maps, consensus (majority, STAPLE) and pairwise agreement on known masks."""

from __future__ import annotations

import numpy as np
import pytest

from core.gt.agreement import AgreementError, consensus, count_map, pair_scores, staple


def _truth() -> np.ndarray:
    t = np.zeros((40, 50), bool)
    t[10:12, 5:45] = True  # a 2-px line
    t[25:29, 20:24] = True  # a blob
    return t


def test_count_map_and_majority():
    t = _truth()
    a, b, c = t.copy(), t.copy(), np.zeros_like(t)
    c[0, 0] = True
    counts = count_map([a, b, c])
    assert counts.dtype == np.uint8 and counts[10, 10] == 2 and counts[0, 0] == 1
    np.testing.assert_array_equal(consensus([a, b, c]), t)
    # Two annotators: the majority is where both agree.
    half = t.copy()
    half[:, 25:] = False
    np.testing.assert_array_equal(consensus([t, half]), half)


def test_staple_trusts_careful_annotators_over_a_noisy_majority():
    t = _truth()
    rng = np.random.default_rng(0)
    masks = [t, t]  # two careful annotators
    for _ in range(3):  # three hasty ones: each misses half the pixels, adds stray ones
        masks.append((t & (rng.random(t.shape) < 0.5)) | (rng.random(t.shape) < 0.01))
    majority = consensus(masks)
    assert (t & ~majority).sum() > 5  # where two hasty ones missed, the vote is lost
    np.testing.assert_array_equal(consensus(masks, method="staple"), t)
    prob = staple(masks)
    assert prob.shape == t.shape and prob[t].min() > 0.5 and prob[~t].max() < 0.5


def test_pair_scores_forgive_a_one_pixel_offset():
    t = _truth()
    shifted = np.roll(t, 1, axis=0)
    s = pair_scores(t, shifted)
    assert s["iou"] < 0.6 and s["f1@1"] == 1.0
    assert pair_scores(shifted, t) == pytest.approx(s)  # symmetric
    assert pair_scores(t, t)["iou"] == 1.0


def test_bad_inputs():
    with pytest.raises(AgreementError, match="at least one"):
        consensus([])
    with pytest.raises(AgreementError, match="one shape"):
        count_map([np.zeros((2, 2)), np.zeros((3, 3))])
    with pytest.raises(AgreementError, match="unknown consensus 'mean'"):
        consensus([np.zeros((2, 2))], method="mean")
