"""AnnotationDocument: painting, exact incremental GT, undo/redo region diffs, notifications."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.classes import CLASSES
from core.demo.synthetic import make_face
from core.gt.document import TILE, AnnotationDocument, DocumentChange, DocumentError, Rect
from core.gt.engine import GTParams, compute_gt

SHAPE = (160, 192)
PARAMS = GTParams(sigma=2.0, wrinkle_threshold=12.0, pore_threshold=3.0)


@pytest.fixture(scope="module")
def face():
    return make_face(11, shape=SHAPE)


def _doc(face, **kw) -> AnnotationDocument:
    return AnnotationDocument(face.image, params=kw.pop("params", PARAMS), **kw)


def _assert_gt_is_full_recompute(doc: AnnotationDocument) -> None:
    rough = {cls: doc.rough(cls) for cls in CLASSES}
    full = compute_gt(doc.image, rough, doc.params)
    for cls in CLASSES:
        np.testing.assert_array_equal(doc.gt(cls), full[cls])


def _reference_capsule(shape, p0, p1, radius) -> np.ndarray:
    """Brute force over the whole image (independent of the bbox-limited code path)."""
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    denom = float(d @ d)
    t = 0.0 if denom == 0 else np.clip(((rr - p0[0]) * d[0] + (cc - p0[1]) * d[1]) / denom, 0, 1)
    return (rr - p0[0] - t * d[0]) ** 2 + (cc - p0[1] - t * d[1]) ** 2 <= radius**2


def _snapshot(doc):
    return {cls: (doc.rough(cls).copy(), doc.gt(cls).copy()) for cls in CLASSES}


def _assert_same(a, b):
    for cls in CLASSES:
        np.testing.assert_array_equal(a[cls][0], b[cls][0])
        np.testing.assert_array_equal(a[cls][1], b[cls][1])


def test_initial_state(face):
    doc = _doc(face, rough=face.rough)
    assert doc.shape == SHAPE and doc.params == PARAMS
    assert not doc.modified and not doc.can_undo and not doc.can_redo
    np.testing.assert_array_equal(doc.rough("pore"), face.rough_pore)
    _assert_gt_is_full_recompute(doc)
    with pytest.raises(ValueError):
        doc.rough("wrinkle")[0, 0] = True  # views are read-only
    with pytest.raises(ValueError):
        doc.gt("pore")[0, 0] = 1


def test_stroke_paints_the_swept_capsule_without_gaps(face):
    doc = _doc(face)
    doc.begin_stroke("wrinkle", radius=3.0)
    r1 = doc.stroke_to(20.0, 10.0)
    r2 = doc.stroke_to(30.4, 150.7)  # one fast mouse move across the image
    doc.end_stroke()
    expected = _reference_capsule(SHAPE, (20, 10), (20, 10), 3.0) | _reference_capsule(
        SHAPE, (20, 10), (30.4, 150.7), 3.0
    )
    np.testing.assert_array_equal(doc.rough("wrinkle"), expected)
    assert r1 == Rect(17, 7, 24, 14)
    assert r2 is not None and r2.row0 <= 17 and r2.col1 == 154
    assert not doc.rough("pore").any()
    _assert_gt_is_full_recompute(doc)


def test_dab_touches_only_its_rectangle(face):
    doc = _doc(face, rough=face.rough)
    before = _snapshot(doc)
    doc.begin_stroke("pore", radius=16.0)
    rect = doc.stroke_to(80.0, 96.0)
    assert rect == Rect(64, 80, 97, 113)  # a 32-px brush: 33×33 box
    outside = np.ones(SHAPE, bool)
    outside[rect.slices] = False
    for cls in CLASSES:
        np.testing.assert_array_equal(doc.rough(cls)[outside], before[cls][0][outside])
        np.testing.assert_array_equal(doc.gt(cls)[outside], before[cls][1][outside])
    assert doc.stroke_to(80.0, 96.0) is None  # nothing new to paint


def test_strokes_outside_the_image_are_clipped(face):
    doc = _doc(face)
    doc.begin_stroke("pore", radius=4.0)
    assert doc.stroke_to(-50.0, -50.0) is None
    rect = doc.stroke_to(-2.0, 5.0)
    assert rect is not None and rect.row0 == 0
    doc.end_stroke()
    np.testing.assert_array_equal(
        doc.rough("pore"), _reference_capsule(SHAPE, (-50, -50), (-2, 5), 4.0)
    )


stroke = st.tuples(
    st.sampled_from(CLASSES),
    st.booleans(),
    st.floats(0.5, 12.0),
    st.lists(
        st.tuples(st.floats(-10, SHAPE[0] + 10), st.floats(-10, SHAPE[1] + 10)),
        min_size=1,
        max_size=6,
    ),
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(strokes=st.lists(stroke, min_size=1, max_size=6))
def test_incremental_gt_equals_full_recompute_and_undo_redo_round_trip(strokes):
    _check_incremental(strokes, PARAMS)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(strokes=st.lists(stroke, min_size=1, max_size=4))
def test_incremental_gt_stays_exact_with_calibrated_thresholds(strokes):
    # both thresholds calibrated per image (per pixel for wrinkles): GT must still be
    # pointwise in (texture, rough), so dab updates equal a full recompute
    params = GTParams(sigma=2.0)
    assert params.is_auto("wrinkle") and params.is_auto("pore")
    _check_incremental(strokes, params)


def _check_incremental(strokes, params: GTParams) -> None:
    face = make_face(11, shape=SHAPE)
    doc = AnnotationDocument(face.image, params=params, rough=face.rough)
    snapshots = [_snapshot(doc)]
    expected = {cls: face.rough[cls].copy() for cls in CLASSES}
    for cls, erase, radius, points in strokes:
        doc.begin_stroke(cls, erase=erase, radius=radius)
        prev = points[0]
        for p in points:
            doc.stroke_to(*p)
            swept = _reference_capsule(SHAPE, prev, p, radius)
            expected[cls] = expected[cls] & ~swept if erase else expected[cls] | swept
            prev = p
        doc.end_stroke()
        for c in CLASSES:
            np.testing.assert_array_equal(doc.rough(c), expected[c])
        _assert_gt_is_full_recompute(doc)
        snapshots.append(_snapshot(doc))
    n_steps = len(doc.history)
    assert n_steps <= len(strokes)  # one entry per stroke that changed something
    while doc.undo():
        pass
    _assert_same(_snapshot(doc), snapshots[0])
    while doc.redo():
        pass
    _assert_same(_snapshot(doc), snapshots[-1])
    _assert_gt_is_full_recompute(doc)


def test_each_stroke_is_one_undo_step_stored_as_region_diffs(face):
    doc = _doc(face)
    snaps = [_snapshot(doc)]
    for i in range(3):
        doc.begin_stroke("wrinkle", radius=5.0)
        for k in range(10):
            doc.stroke_to(20.0 + 40 * i, 10.0 + 15 * k)
        doc.end_stroke()
        snaps.append(_snapshot(doc))
    assert len(doc.history) == 3
    entry = doc.history[-1]
    assert entry.cls == "wrinkle" and entry.label == "brush"
    changed = sum(p.rows.size for p in entry.patches)
    assert changed == (snaps[3]["wrinkle"][0] != snaps[2]["wrinkle"][0]).sum()
    assert entry.nbytes < doc.rough("wrinkle").nbytes  # never a whole-image snapshot
    for p in entry.patches:
        assert p.rect.height <= TILE and p.rect.width <= TILE
        assert (p.new != p.old).all()
    for expected in reversed(snaps[:-1]):
        assert doc.undo()
        _assert_same(_snapshot(doc), expected)
    assert not doc.undo()
    for expected in snaps[1:]:
        assert doc.redo()
        _assert_same(_snapshot(doc), expected)
    assert not doc.redo()


def test_new_stroke_clears_redo(face):
    doc = _doc(face)
    for r in (20.0, 60.0):
        doc.begin_stroke("pore", radius=3)
        doc.stroke_to(r, 50.0)
        doc.end_stroke()
    doc.undo()
    assert doc.can_redo
    doc.begin_stroke("pore", radius=3)
    doc.stroke_to(100.0, 50.0)
    doc.end_stroke()
    assert not doc.can_redo


def test_history_holds_at_least_100_steps_and_respects_the_limit(face):
    doc = _doc(face)
    assert doc._limit == 200
    for i in range(150):
        doc.begin_stroke("pore", radius=1.0)
        doc.stroke_to(float(i % 150), float((i * 7) % 190))
        doc.end_stroke()
    assert len(doc.history) == 150
    undone = 0
    while doc.undo():
        undone += 1
    assert undone == 150 and not doc.rough("pore").any()

    small = _doc(face, history_limit=3)
    for i in range(5):
        small.begin_stroke("wrinkle", radius=2.0)
        small.stroke_to(10.0 + 20 * i, 10.0)
        small.end_stroke()
    assert sum(small.undo() for _ in range(5)) == 3
    assert small.rough("wrinkle")[10, 10] and small.rough("wrinkle")[30, 10]
    assert not small.rough("wrinkle")[50, 10]
    assert small.modified  # the oldest steps could not be undone


def test_fill_polygon_set_rough_and_clear_are_single_steps(face):
    doc = _doc(face)
    rect = doc.fill_polygon("pore", [(10, 10), (10, 40), (30, 40), (30, 10)])
    expected = np.zeros(SHAPE, bool)
    expected[10:31, 10:41] = True
    np.testing.assert_array_equal(doc.rough("pore"), expected)
    assert rect == Rect(10, 10, 31, 41)
    doc.fill_polygon("pore", [(15, 15), (15, 20), (20, 20), (20, 15)], erase=True)
    expected[15:21, 15:21] = False
    np.testing.assert_array_equal(doc.rough("pore"), expected)
    assert doc.fill_polygon("pore", [(500, 500), (500, 600), (600, 600)]) is None
    _assert_gt_is_full_recompute(doc)

    doc.set_rough("wrinkle", face.rough_wrinkle)
    np.testing.assert_array_equal(doc.rough("wrinkle"), face.rough_wrinkle)
    assert doc.set_rough("wrinkle", face.rough_wrinkle) is None  # no change, no step
    doc.clear_class("pore")
    assert not doc.rough("pore").any()
    assert [e.label for e in doc.history] == ["fill", "erase polygon", "set mask", "clear"]
    _assert_gt_is_full_recompute(doc)
    doc.undo()
    np.testing.assert_array_equal(doc.rough("pore"), expected)
    doc.undo()
    assert not doc.rough("wrinkle").any()
    _assert_gt_is_full_recompute(doc)


def test_set_rough_many_is_one_undo_step_of_region_diffs(face):
    doc = _doc(face)
    doc.begin_stroke("pore", radius=3.0)
    doc.stroke_to(5.0, 5.0)
    doc.end_stroke()
    painted = doc.rough("pore").copy()
    seen: list[DocumentChange] = []
    doc.subscribe(seen.append)
    new = {"wrinkle": face.rough_wrinkle, "pore": face.rough_pore | painted}
    changed = doc.set_rough_many(new, label="pre-label")
    assert set(changed) == {"wrinkle", "pore"}
    assert [c.cls for c in seen] == ["wrinkle", "pore"]
    for cls in new:
        np.testing.assert_array_equal(doc.rough(cls), new[cls])
    _assert_gt_is_full_recompute(doc)
    entry = doc.history[-1]
    assert len(doc.history) == 2 and entry.label == "pre-label"
    assert entry.classes == ("wrinkle", "pore")
    # region diffs: only the changed pixels are stored, not whole masks
    stored = sum(p.rows.size for _, patches, _ in entry.parts for p in patches)
    assert stored == int(face.rough_wrinkle.sum() + (new["pore"] != painted).sum())
    assert entry.nbytes < 2 * face.rough_wrinkle.size

    assert doc.undo()  # one undo takes back both classes
    assert not doc.rough("wrinkle").any()
    np.testing.assert_array_equal(doc.rough("pore"), painted)
    _assert_gt_is_full_recompute(doc)
    assert seen[-2:] == [DocumentChange("rough", cls, bbox) for cls, _, bbox in entry.parts]
    assert doc.redo()
    for cls in new:
        np.testing.assert_array_equal(doc.rough(cls), new[cls])
    _assert_gt_is_full_recompute(doc)
    assert doc.set_rough_many(new) == {}  # nothing changed, no step
    assert len(doc.history) == 2


def test_subscribe_and_unsubscribe(face):
    doc = _doc(face)
    seen: list[DocumentChange] = []
    unsubscribe = doc.subscribe(seen.append)
    doc.begin_stroke("wrinkle", radius=2.0)
    rect = doc.stroke_to(50.0, 50.0)
    doc.end_stroke()
    assert seen == [DocumentChange("rough", "wrinkle", rect)]
    entry = doc.history[-1]
    doc.undo()
    assert seen[-1] == DocumentChange("rough", "wrinkle", entry.bbox)
    assert entry.bbox.row0 <= rect.row0 and entry.bbox.row1 >= rect.row1
    doc.set_params(GTParams(sigma=3.0))
    assert seen[-1] == DocumentChange("params", None, None)
    doc.reset({"pore": face.rough_pore})
    assert seen[-1] == DocumentChange("reset", None, None)
    count = len(seen)
    unsubscribe()
    doc.fill_polygon("pore", [(1, 1), (1, 9), (9, 9)])
    assert len(seen) == count


def test_set_params_recomputes_and_reuses_textures(face):
    doc = _doc(face, rough=face.rough)
    rev = doc.revision
    wrinkle_map = doc.textures.wrinkle
    doc.set_params(GTParams(sigma=2.0, wrinkle_threshold=30.0, pore_threshold=3.0))
    assert doc.textures.wrinkle is wrinkle_map and doc.revision > rev
    _assert_gt_is_full_recompute(doc)
    doc.set_params(GTParams(sigma=4.0, wrinkle_threshold=30.0, pore_threshold=6.0))
    assert doc.textures.wrinkle is not wrinkle_map and doc.textures.sigma == 4.0
    _assert_gt_is_full_recompute(doc)
    assert doc.modified and not doc.can_undo  # params change is not an undo step


def test_set_params_steps_apply_only_after_the_last_step(face):
    doc = _doc(face, rough=face.rough)
    seen: list[DocumentChange] = []
    doc.subscribe(seen.append)
    new = GTParams(sigma=3.0, wrinkle_threshold=25.0, pore_threshold=5.0)
    steps = []
    for progress in doc.set_params_steps(new):
        steps.append((progress.done, progress.total, progress.message))
        if progress.done < progress.total:
            assert doc.params == PARAMS and not seen  # nothing applied mid-way
    assert [s[:2] for s in steps] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert "wrinkle" in steps[0][2] and "pore" in steps[1][2]
    assert doc.params == new and seen == [DocumentChange("params", None, None)]
    _assert_gt_is_full_recompute(doc)
    # only a threshold changed: no texture map is recomputed, one GT step
    wrinkle_map = doc.textures.wrinkle
    steps = list(
        doc.set_params_steps(GTParams(sigma=3.0, wrinkle_threshold=30.0, pore_threshold=5.0))
    )
    assert [(p.done, p.total) for p in steps] == [(0, 1), (1, 1)]
    assert doc.textures.wrinkle is wrinkle_map
    _assert_gt_is_full_recompute(doc)


def test_modified_and_revision(face):
    doc = _doc(face)
    assert not doc.modified
    doc.begin_stroke("pore", radius=3.0)
    doc.stroke_to(40.0, 40.0)
    assert doc.modified and doc.can_undo  # during the stroke already
    doc.end_stroke()
    doc.mark_saved()
    assert not doc.modified
    rev = doc.revision
    doc.undo()
    assert doc.modified and doc.revision > rev
    doc.redo()
    assert not doc.modified
    doc.reset()
    assert not doc.modified and not doc.can_undo and not doc.rough("pore").any()
    _assert_gt_is_full_recompute(doc)


def test_undo_during_a_stroke_ends_it_first(face):
    doc = _doc(face)
    doc.begin_stroke("pore", radius=3.0)
    doc.stroke_to(40.0, 40.0)
    assert doc.undo()
    assert not doc.rough("pore").any()
    assert doc.redo() and doc.rough("pore")[40, 40]


def test_invalid_use(face):
    doc = _doc(face)
    with pytest.raises(DocumentError, match="begin_stroke"):
        doc.stroke_to(1.0, 1.0)
    with pytest.raises(DocumentError, match="radius"):
        doc.begin_stroke("pore", radius=0)
    with pytest.raises(ValueError, match="unknown class"):
        doc.begin_stroke("acne", radius=2)
    with pytest.raises(DocumentError, match="shape"):
        doc.set_rough("pore", np.zeros((5, 5), bool))
    with pytest.raises(DocumentError, match="3 finite"):
        doc.fill_polygon("pore", [(1, 1), (2, 2)])
    with pytest.raises(DocumentError, match="uint8"):
        AnnotationDocument(np.zeros((5, 5), np.uint8), params=PARAMS)
    with pytest.raises(DocumentError, match="history_limit"):
        AnnotationDocument(face.image, params=PARAMS, history_limit=0)


def test_deferred_textures_keep_strokes_and_fill_gt_when_computed():
    from core.demo.synthetic import make_face
    from core.gt.document import AnnotationDocument
    from core.gt.engine import GTParams, compute_gt

    face = make_face(4, shape=(96, 112))
    doc = AnnotationDocument(face.image, params=GTParams(), defer_textures=True)
    changes = []
    doc.subscribe(changes.append)
    assert not doc.textures_ready and doc.textures is None
    # painting works at once: the stroke is kept, GT waits for the maps
    doc.begin_stroke("wrinkle", radius=6)
    doc.stroke_to(40, 20)
    doc.stroke_to(40, 90)
    doc.end_stroke()
    assert doc.rough("wrinkle").sum() > 300 and doc.gt("wrinkle").max() == 0
    steps = list(doc.compute_textures_steps())
    assert [s.done for s in steps] == [0, 1, 2] and steps[-1].total == 2
    assert doc.textures_ready and changes[-1].kind == "params"
    expected = compute_gt(face.image, {"wrinkle": doc.rough("wrinkle")}, GTParams())
    assert np.array_equal(doc.gt("wrinkle"), expected["wrinkle"])
    assert doc.can_undo and doc.undo() and not doc.rough("wrinkle").any()
    assert list(doc.compute_textures_steps())[-1].done == 2  # nothing left to do


def test_deferred_textures_give_way_to_new_params():
    from core.demo.synthetic import make_face
    from core.gt.document import AnnotationDocument
    from core.gt.engine import GTParams

    face = make_face(5, shape=(64, 80))
    doc = AnnotationDocument(face.image, params=GTParams(), defer_textures=True)
    steps = doc.compute_textures_steps()
    next(steps)  # the worker started on the old parameters...
    doc.set_params(GTParams(sigma=3.0))  # ...the user changed sigma meanwhile
    assert doc.textures is not None and doc.textures.sigma == 3.0
    list(steps)  # the stale maps are dropped
    assert doc.textures.sigma == 3.0 and doc.params.sigma == 3.0


def test_snapshot_copies_every_layer_at_its_revision(face):
    doc = _doc(face, rough={"wrinkle": face.rough["wrinkle"]})
    doc.set_rough("exclude", face.rough["pore"])
    masks, revision = doc.snapshot()
    assert sorted(masks) == sorted(["wrinkle", "pore", "exclude"]) and revision == doc.revision
    np.testing.assert_array_equal(masks["wrinkle"], doc.rough("wrinkle"))
    np.testing.assert_array_equal(masks["exclude"], doc.exclude)
    doc.clear_class("wrinkle")  # later edits never reach the copies
    assert masks["wrinkle"].any() and not doc.rough("wrinkle").any()
    assert masks["wrinkle"].flags.writeable and doc.revision > revision
