"""Pre-labels: order ahead of the annotator, sources, running and storing them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.assist.active import load_uncertainties
from core.assist.prelabel import (
    BASELINE_SOURCE,
    baseline_source,
    describe_source,
    model_source,
    needs_prelabel,
    order_ahead,
    plan_prelabels,
    prelabel_images,
    prelabel_sources,
    reject_prelabel,
    rejected_prelabels,
    source_for,
)
from core.demo.synthetic import make_face
from core.errors import Cancelled, ProjectError
from core.gt.baselines import baseline_maps
from core.imageio import load_image, save_png
from core.progress import CancelToken
from core.project import Project, Status

SHAPE = (96, 112)


def make_project(folder: Path, count: int = 5) -> Project:
    src = folder / "src"
    src.mkdir(parents=True)
    for i in range(count):
        save_png(src / f"face-{i}.png", make_face(20 + i, shape=SHAPE).image)
    project = Project.create(folder / "project", name="prelabel test")
    for _ in project.import_images(src, copy=True):
        pass
    return project


@pytest.fixture
def project(tmp_path):
    p = make_project(tmp_path)
    yield p
    p.close()


@pytest.fixture
def any_project(tmp_path, project_factory):
    """:func:`make_project` on both backends (a folder, a PostgreSQL team project)."""
    src = tmp_path / "src"
    src.mkdir(parents=True)
    for i in range(5):
        save_png(src / f"face-{i}.png", make_face(20 + i, shape=SHAPE).image)
    p = project_factory.create("project", name="prelabel test")
    for _ in p.import_images(src, copy=True):
        pass
    yield p
    p.close()


def test_order_ahead_starts_at_the_current_image_and_wraps():
    assert order_ahead([1, 2, 3, 4, 5], 3) == [3, 4, 5, 1, 2]
    assert order_ahead([1, 2, 3], None) == [1, 2, 3]
    assert order_ahead([1, 2, 3], 9) == [1, 2, 3]
    assert order_ahead([], 1) == []


def test_plan_puts_current_then_next_first_and_skips_started_images(project):
    ids = [r.id for r in project.images()]
    project.save_rough(ids[3], {"wrinkle": np.ones(SHAPE, bool)})  # -> in progress
    project.set_status(ids[0], "in_progress")
    project.set_status(ids[0], "submitted")
    source = baseline_source()
    assert plan_prelabels(project, source, current=ids[2]) == [ids[2], ids[4], ids[1]]
    # the open image already started: the next one after it comes first
    assert plan_prelabels(project, source, current=ids[3]) == [ids[4], ids[1], ids[2]]
    # another order (e.g. by uncertainty) is followed from the current image
    order = [ids[4], ids[2], ids[1], ids[0], ids[3]]
    assert plan_prelabels(project, source, order=order, current=ids[2]) == [ids[2], ids[1], ids[4]]


def test_baseline_prelabels_are_stored_with_source_and_status(any_project):
    project = any_project
    records = project.images()
    ids = [r.id for r in records]
    source = source_for(project)
    assert source.kind == "baseline" and source.name == BASELINE_SOURCE
    steps = list(prelabel_images(project, ids[:3], source=source))
    assert steps[-1].info["summary"] == {"done": 3, "skipped": 0, "failed": 0}
    per_image = [s for s in steps if "image_id" in s.info]
    assert [s.info["image_id"] for s in per_image] == ids[:3]
    for rec in records[:3]:
        maps, stored_source = project.load_prelabel(rec.id)
        expected = baseline_maps(load_image(rec.path).pixels)
        for cls in ("wrinkle", "pore"):
            np.testing.assert_array_equal(maps[cls], expected[cls])
        assert stored_source == BASELINE_SOURCE
        assert project.image(rec.id).status is Status.PRELABELED
    assert project.load_prelabel(ids[3]) is None
    assert project.image(ids[3]).status is Status.NEW
    assert prelabel_sources(project) == dict.fromkeys(ids[:3], BASELINE_SOURCE)
    # baseline maps are 0/255: no uncertainty information
    assert load_uncertainties(project, ids) == dict.fromkeys(ids[:3], 0.0)
    # done images are not planned again for the same source
    assert plan_prelabels(project, source) == ids[3:]


def test_image_started_meanwhile_is_skipped_not_overwritten(project):
    ids = [r.id for r in project.images()]
    planned = plan_prelabels(project, baseline_source())
    project.save_rough(ids[1], {"pore": np.ones(SHAPE, bool)})
    steps = list(prelabel_images(project, planned[:3], source=baseline_source()))
    assert steps[-1].info["summary"] == {"done": 2, "skipped": 1, "failed": 0}
    assert project.load_prelabel(ids[1]) is None
    assert project.image(ids[1]).status is Status.IN_PROGRESS


def test_cancel_stops_between_images(project):
    ids = [r.id for r in project.images()]
    token = CancelToken()
    gen = prelabel_images(project, ids, source=baseline_source(), cancel=token)
    next(gen)  # start
    first = next(gen)
    assert first.info["image_id"] == ids[0]
    token.cancel()
    with pytest.raises(Cancelled):
        next(gen)
    assert set(prelabel_sources(project)) == {ids[0]}


def test_unreadable_image_is_reported_and_the_batch_goes_on(project):
    records = project.images()
    records[1].path.write_bytes(b"not an image")
    steps = list(prelabel_images(project, [r.id for r in records[:3]], source=baseline_source()))
    assert steps[-1].info["summary"] == {"done": 2, "skipped": 0, "failed": 1}
    errors = [s.info["error"] for s in steps if "error" in s.info]
    assert len(errors) == 1 and records[1].name in errors[0]


def test_custom_save_receives_everything_and_project_is_untouched(project):
    ids = [r.id for r in project.images()]
    saved = []

    def fake_predict(image):
        return {"wrinkle": np.full(image.shape[:2], 128, np.uint8), "pore": image[..., 0].copy()}

    def save(image_id, maps, name, score):
        saved.append((image_id, name, score, maps["wrinkle"].shape))

    list(
        prelabel_images(project, ids[:2], source=baseline_source(), predict=fake_predict, save=save)
    )
    assert [s[0] for s in saved] == ids[:2]
    assert all(s[1] == BASELINE_SOURCE and s[3] == SHAPE for s in saved)
    assert all(0.5 < s[2] < 1.0 for s in saved)  # half the pixels fully undecided
    assert prelabel_sources(project) == {}


def test_model_source_predicts_with_the_checkpoint(project, tmp_path):
    torch = pytest.importorskip("torch")
    from core.model import Predictor, create_model, save_checkpoint

    torch.manual_seed(0)
    net = create_model("reduced-unet", width=4).eval()
    ck = save_checkpoint(
        tmp_path / "ck", net, name="reduced-unet", config={"width": 4}, metadata={}
    )
    model_id = project.add_model(ck, {"iou_mean": 0.1})
    project.set_current_model(model_id)
    source = source_for(project)
    assert source.kind == "model" and source.model_id == model_id
    assert source == model_source(model_id, ck)
    assert describe_source(source.name).startswith(f"model #{model_id}")
    assert "baselines" in describe_source(BASELINE_SOURCE)
    ids = [r.id for r in project.images()]
    list(prelabel_images(project, ids[:1], source=baseline_source()))
    # a new model refreshes the baseline pre-label as well as the new images
    assert plan_prelabels(project, source) == ids
    steps = list(prelabel_images(project, ids[:2], source=source))
    assert steps[-1].info["summary"]["done"] == 2
    expected = Predictor(ck, device="cpu").predict([load_image(project.image(ids[0]).path).pixels])
    maps, name = project.load_prelabel(ids[0])
    assert name == source.name
    np.testing.assert_array_equal(maps["wrinkle"], expected[0]["wrinkle"])
    scores = load_uncertainties(project, ids, source=source.name)
    assert set(scores) == set(ids[:2]) and all(0.0 < v <= 1.0 for v in scores.values())


def test_prelabel_to_rough_thresholds_at_the_level_and_grows_a_disk():
    from core.assist.prelabel import prelabel_to_rough

    w = np.zeros((21, 21), np.uint8)
    w[10, 10] = 200
    w[2, 2] = 99  # below the level
    p = np.zeros((21, 21), np.uint8)
    rough = prelabel_to_rough({"wrinkle": w, "pore": p}, {"wrinkle": 100, "pore": 128}, grow=2)
    rows, cols = np.nonzero(rough["wrinkle"])
    d2 = (rows - 10) ** 2 + (cols - 10) ** 2
    assert d2.max() <= 6 and len(rows) == 21  # disk of radius 2: 5x5 minus its 4 corners
    assert not rough["wrinkle"][2, 2] and not rough["pore"].any()
    exact = prelabel_to_rough({"wrinkle": w, "pore": p}, {"wrinkle": 100, "pore": 128}, grow=0)
    assert np.argwhere(exact["wrinkle"]).tolist() == [[10, 10]]
    with pytest.raises(ValueError):
        prelabel_to_rough({"wrinkle": w, "pore": p}, {}, grow=-1)


def test_mask_levels_and_source_names_round_trip(tmp_path):
    import json

    from core.assist.prelabel import mask_levels, source_from_name

    assert mask_levels(baseline_source()) == {"wrinkle": 128.0, "pore": 128.0}
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / "config.json").write_text(json.dumps({"metadata": {"mask_levels": {"wrinkle": 30}}}))
    src = model_source(7, ck)
    assert source_from_name(src.name) == src
    assert mask_levels(src) == {"wrinkle": 30.0, "pore": 64.0}  # missing: the default level
    assert mask_levels(model_source(8, tmp_path / "missing"))["pore"] == 64.0
    # Levels given as text are not numbers: the defaults, no traceback (the model itself
    # is refused with the reason when it is loaded).
    (ck / "config.json").write_text(json.dumps({"metadata": {"mask_levels": {"wrinkle": "x"}}}))
    assert mask_levels(src) == {"wrinkle": 64.0, "pore": 64.0}
    assert source_from_name(BASELINE_SOURCE).kind == "baseline"


def test_reject_prelabel_remembers_the_source_and_refuses_what_it_cannot_reject(any_project):
    project = any_project
    a, b, c = (r.id for r in project.images()[:3])
    maps = {cls: np.full(SHAPE, 200, np.uint8) for cls in ("wrinkle", "pore")}
    project.save_prelabel(a, maps, source="model:1:m")
    project.save_prelabel(b, maps, source=BASELINE_SOURCE)
    assert reject_prelabel(project, a, note="blurry") == "model:1:m"
    assert project.image(a).status is Status.NEW and project.load_prelabel(a) is None
    assert prelabel_sources(project) == {b: BASELINE_SOURCE}
    assert rejected_prelabels(project) == {a: "model:1:m"}
    assert "blurry" in project.history(a)[-1].comment
    with pytest.raises(ProjectError, match="is new; only pre-labeled images"):
        reject_prelabel(project, a)
    project.set_status(c, "prelabeled")  # a status without stored maps
    with pytest.raises(ProjectError, match="has no stored pre-label to reject"):
        reject_prelabel(project, c)


def test_rough_margin_is_generous_and_scales_with_the_image():
    from core.assist.prelabel import ROUGH_GROW, grow_mask, prelabel_to_rough, rough_grow

    assert rough_grow((640, 768)) == ROUGH_GROW >= 4  # a few pixels, like a brush stroke
    assert rough_grow((4000, 6000)) == round(ROUGH_GROW * np.sqrt(24e6 / (640 * 768)))
    assert rough_grow((64, 64)) >= 1
    # the default margin is rough_grow of the map's shape: a one-pixel line widens to a band
    w = np.zeros((640, 768), np.uint8)
    w[320, 100:600] = 255
    p = np.zeros_like(w)
    rough = prelabel_to_rough({"wrinkle": w, "pore": p}, {"wrinkle": 128, "pore": 128})
    band = np.flatnonzero(rough["wrinkle"][:, 350])
    assert band.min() == 320 - ROUGH_GROW and band.max() == 320 + ROUGH_GROW
    assert not rough["pore"].any()
    # grow_mask is the same round disk as a dilation, for any radius
    dot = np.zeros((41, 41), bool)
    dot[20, 20] = True
    for r in (1, 3, 12):
        yy, xx = np.mgrid[-20:21, -20:21]
        assert (grow_mask(dot, r) == (yy * yy + xx * xx <= r * (r + 1))).all()


def test_old_baseline_prelabels_are_described_and_refreshed():
    from core.assist.prelabel import describe_source

    old = "baseline:frangi+kmeans"
    assert "baselines" in describe_source(old)
    assert needs_prelabel("prelabeled", old, BASELINE_SOURCE)
