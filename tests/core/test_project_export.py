"""core.project.export: status selection, per-image params, changed/missing images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.classes import CLASSES
from core.dataset import read_manifest, split_for
from core.errors import ProjectError
from core.gt.engine import GTParams, compute_gt
from core.imageio import encode_png
from core.project import Project


def _drain(gen):
    """Run a progress generator to the end; return its last Progress."""
    return list(gen)[-1]


@pytest.fixture
def proj(tmp_path, rng):
    src = tmp_path / "src"
    for i in range(5):
        d = src / ("left" if i % 2 else "right")
        d.mkdir(parents=True, exist_ok=True)
        # Two files called face0.png in different folders: item ids must stay unique.
        name = "face0.png" if i in (0, 1) else f"face{i}.png"
        (d / name).write_bytes(encode_png(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)))
    p = Project.create(tmp_path / "proj", params=GTParams(sigma=2.0))
    _drain(p.import_images(src))
    for rec in p.images():
        p.save_rough(rec.id, {c: rng.random((18, 22)) > 0.5 for c in CLASSES})
        p.set_status(rec.id, "submitted")
    yield p
    p.close()


def test_export_accepted_by_default_with_effective_params(proj, tmp_path):
    recs = proj.images()
    for rec in recs[:3]:
        proj.set_status(rec.id, "accepted")
    proj.set_status(recs[3].id, "rejected")
    override = GTParams(sigma=5.0, wrinkle_threshold=5.0)
    proj.set_params(override, image_id=recs[1].id)
    last = _drain(proj.export(tmp_path / "ds", val_ratio=0.3))
    assert last.info["items"] == 3
    m = read_manifest(tmp_path / "ds")
    assert len({i.id for i in m.items}) == 3
    assert m.gt_params == GTParams(sigma=2.0).to_dict()
    by_hash = {r.content_hash: r for r in recs}
    for item in m.items:
        rec = by_hash[item.content_hash]
        assert item.status == "accepted" and item.split == split_for(rec.content_hash, 0.3)
        image = cv2.cvtColor(cv2.imread(str(rec.path)), cv2.COLOR_BGR2RGB)
        gt = compute_gt(image, proj.load_rough(rec.id), proj.params(rec.id))
        np.testing.assert_array_equal(cv2.imread(str(item.gt["pore"]), -1), gt["pore"])
    assert [i.gt_params for i in m.items] == [None, override.to_dict(), None]
    # --status selects others; a status with no images is a clear error.
    last = _drain(proj.export(tmp_path / "ds2", statuses=["rejected", "submitted"]))
    assert last.info["items"] == 2
    with pytest.raises(ProjectError, match="no images with status new"):
        proj.export(tmp_path / "ds3", statuses=["new"])


def test_missing_or_changed_image_stops_export_cleanly(proj, tmp_path, rng):
    for rec in proj.images():
        proj.set_status(rec.id, "accepted")
    victim = proj.images()[3]
    victim.path.write_bytes(encode_png(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)))
    with pytest.raises(ProjectError, match="changed since it was imported"):
        _drain(proj.export(tmp_path / "ds"))
    victim.path.unlink()
    with pytest.raises(ProjectError, match=f"image '{victim.name}' is missing"):
        _drain(proj.export(tmp_path / "ds"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj", "src"]


def test_export_from_read_only_project(proj, tmp_path):
    rec = proj.images()[0]
    proj.set_status(rec.id, "accepted")
    with Project.open(proj.root, read_only=True) as ro:
        assert _drain(ro.export(tmp_path / "ds")).info["items"] == 1
