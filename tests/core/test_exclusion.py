"""The exclusion mask: its area leaves both classes' GT, in the document, the project, export."""

from __future__ import annotations

import numpy as np
import pytest

from core.dataset import read_manifest
from core.demo.synthetic import make_face
from core.gt.document import AnnotationDocument, DocumentError
from core.gt.engine import GTParams, compute_gt
from core.imageio import load_mask, save_png
from core.project import Project

SHAPE = (96, 128)


@pytest.fixture
def face():
    return make_face(5, shape=SHAPE)


def test_painting_the_exclusion_removes_both_gts_there_and_undoes(face):
    params = GTParams()
    doc = AnnotationDocument(face.image, params=params, rough=face.rough)
    full = {c: doc.gt(c).copy() for c in ("wrinkle", "pore")}
    assert full["wrinkle"].any() and full["pore"].any()
    doc.begin_stroke("exclude", radius=20)
    doc.stroke_to(48, 0)
    doc.stroke_to(48, 127)
    doc.end_stroke()
    exclude = doc.exclude
    assert exclude[48].all() and len(doc.history) == 1
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(doc.rough(c), face.rough[c])  # rough masks untouched
        assert not doc.gt(c)[exclude].any()
        expected = compute_gt(face.image, {k: v & ~exclude for k, v in face.rough.items()}, params)
        np.testing.assert_array_equal(doc.gt(c), expected[c])
    # Painting a class inside the excluded area adds nothing to GT.
    doc.begin_stroke("wrinkle", radius=5)
    doc.stroke_to(48, 60)
    doc.end_stroke()
    assert not doc.gt("wrinkle")[exclude].any()
    doc.undo()
    doc.undo()
    for c in ("wrinkle", "pore"):
        np.testing.assert_array_equal(doc.gt(c), full[c])
    assert not doc.exclude.any()


def test_exclusion_given_at_open_and_by_reset(face):
    band = np.zeros(SHAPE, bool)
    band[:, :40] = True
    doc = AnnotationDocument(face.image, params=GTParams(), rough={**face.rough, "exclude": band})
    assert not doc.gt("wrinkle")[:, :40].any() and not doc.gt("pore")[:, :40].any()
    doc.reset(face.rough)
    assert not doc.exclude.any()
    with pytest.raises(DocumentError, match="unknown class 'hair'"):
        doc.begin_stroke("hair", radius=3)


def test_project_saves_the_exclusion_and_export_leaves_its_area_out(face, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    save_png(src / "face.png", face.image)
    band = np.zeros(SHAPE, bool)
    band[:, 64:] = True
    with Project.create(tmp_path / "p") as p:
        list(p.import_images(src))
        p.save_rough(1, {**face.rough, "exclude": band})
        np.testing.assert_array_equal(p.load_exclusion(1), band)
        assert set(p.load_rough(1)) == {"wrinkle", "pore"}  # the classes, as before
        np.testing.assert_array_equal(p.load_rough_for_editing(1)["exclude"], band)
        revisions = p.mask_revisions(1)
        p.save_rough(1, {**face.rough, "exclude": band})  # nothing changed: nothing written
        assert p.mask_revisions(1) == revisions
        p.set_status(1, "submitted")
        p.set_status(1, "accepted")
        list(p.export(tmp_path / "ds"))
    item = read_manifest(tmp_path / "ds").items[0]
    for c in ("wrinkle", "pore"):
        gt = load_mask(item.masks[c])
        assert gt[:, :64].any() and not gt[:, 64:].any()
    with Project.open(tmp_path / "p", read_only=True) as p:
        np.testing.assert_array_equal(p.load_exclusion(1), band)
