"""Click-to-pore and box-select: scale-space blobs on generated pores."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.demo.synthetic import make_face
from core.gt.document import AnnotationDocument, DocumentError
from core.gt.document_parts import Rect
from core.gt.engine import GTParams
from core.tools.pores import PoreFinder, PoreToolError, blob_region, find_pores, pore_at


def _skin(shape=(64, 80), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gray = np.full(shape, 190.0) + rng.normal(0, 1.0, shape)
    return gray


def _rgb(gray: np.ndarray) -> np.ndarray:
    g = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def _pore(gray: np.ndarray, row: float, col: float, radius: float, depth: float = 50) -> None:
    rr, cc = np.ogrid[: gray.shape[0], : gray.shape[1]]
    gray -= depth * np.exp(-((rr - row) ** 2 + (cc - col) ** 2) / (2 * (radius / 1.5) ** 2))


@pytest.mark.parametrize("radius", [1.2, 2.0, 3.5])
def test_click_finds_the_pore_under_it_with_its_size(radius):
    gray = _skin()
    _pore(gray, 30, 40, radius)
    blob = pore_at(_rgb(gray), 31.2, 39.4)  # the click is 1-2 px off the centre
    assert blob is not None
    assert (blob.row, blob.col) == (30.0, 40.0)
    # Bigger pores get bigger blobs (radius within a factor of 2 of the drawn size).
    assert radius / 2 <= blob.radius <= radius * 2


def test_bigger_pores_get_bigger_regions():
    gray = _skin()
    _pore(gray, 20, 20, 1.2)
    _pore(gray, 40, 60, 3.5)
    finder = PoreFinder(_rgb(gray))
    small, big = finder.at(20, 20), finder.at(40, 60)
    assert small is not None and big is not None and big.radius > small.radius * 1.5


def test_click_on_flat_skin_finds_nothing_and_far_pores_are_ignored():
    gray = _skin()
    _pore(gray, 30, 40, 2.0)
    finder = PoreFinder(_rgb(gray))
    assert finder.at(10, 10) is None
    assert finder.at(30, 52) is None  # 12 px away: not "under the cursor"
    assert finder.at(-5, 3) is None  # outside the image
    assert finder.at(30, 52, search=13) is not None


def test_click_finds_every_generated_pore_of_a_face():
    face = make_face(3, shape=(320, 384))  # pores 1-2 px in radius
    finder = PoreFinder(face.image)
    count, _, _, centres = cv2.connectedComponentsWithStats(face.pore.astype(np.uint8))
    assert count > 20
    for c, r in centres[1:]:
        blob = finder.at(r + 0.4, c - 0.4)
        assert blob is not None and np.hypot(blob.row - r, blob.col - c) < 1.5


def test_box_keeps_only_blobs_above_the_texture_threshold():
    gray = _skin((60, 120))
    for col in (20, 50, 80, 100):
        _pore(gray, 30, col, 2.0, depth=60)
    image = _rgb(gray)
    texture = np.zeros(gray.shape, np.float32)
    texture[25:36, 45:56] = 9  # only the pore at col 50 passes the current threshold
    everything = find_pores(image, (0, 0, 59, 119))
    assert sorted(b.col for b in everything) == [20, 50, 80, 100]
    assert [b.col for b in find_pores(image, (0, 0, 59, 119), texture=texture)] == [50]
    # The box is inclusive and corners may come in any order; centres outside are left.
    assert sorted(b.col for b in find_pores(image, (59, 90, 0, 40))) == [50, 80]
    assert find_pores(image, (10, 10, 10, 10)) == []


def test_blob_region_is_a_disk_of_radius_plus_margin_clipped_to_the_image():
    gray = _skin()
    _pore(gray, 2, 2, 2.0)
    blob = pore_at(_rgb(gray), 2, 2)
    assert blob is not None
    rect, inside = blob_region((64, 80), [blob], margin=1.0)
    assert rect.row0 == 0 and rect.col0 == 0  # clipped at the corner
    r = blob.radius + 1.0
    assert inside.sum() == pytest.approx(np.pi * r * r / 1, rel=0.6)  # about a disk
    assert blob_region((64, 80), []) is None


def test_document_add_region_is_one_undo_step_and_updates_gt():
    face = make_face(1, shape=(160, 192))
    doc = AnnotationDocument(face.image, params=GTParams())
    finder = PoreFinder(face.image)
    _, _, _, centres = cv2.connectedComponentsWithStats(face.pore.astype(np.uint8))
    c, r = centres[1]
    blob = finder.at(r, c)
    assert blob is not None
    rect, inside = blob_region(doc.shape, [blob])
    assert doc.add_region("pore", rect, inside, label="pore") is not None
    assert len(doc.history) == 1 and doc.history[0].label == "pore"
    assert doc.rough("pore")[int(r), int(c)]
    gt = doc.gt("pore") > 0
    assert gt[rect.slices].any() and not gt[~doc.rough("pore")].any()
    assert doc.add_region("pore", rect, inside) is None  # nothing new: no step
    doc.undo()
    assert not doc.rough("pore").any() and not doc.gt("pore").any()
    with pytest.raises(DocumentError, match="outside"):
        doc.add_region("pore", Rect(0, 0, 999, 5), np.ones((999, 5), bool))
    with pytest.raises(DocumentError, match="does not match"):
        doc.add_region("pore", Rect(0, 0, 2, 2), np.ones((3, 3), bool))


def test_bad_options():
    image = _rgb(_skin())
    with pytest.raises(PoreToolError, match="radii"):
        PoreFinder(image, min_radius=4, max_radius=2)
    with pytest.raises(PoreToolError, match="finite"):
        PoreFinder(image).at(float("nan"), 1)
    with pytest.raises(PoreToolError, match="texture map"):
        PoreFinder(image).in_box(0, 0, 5, 5, texture=np.zeros((3, 3)))
