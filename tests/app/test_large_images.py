"""Large images open preview-first: shown at once, paintable before their maps, GT after.

"Large" is lowered to a few thousand pixels so that small generated images take the
large-image path; the texture-map computation is held on a gate so that the test sees
the window while the maps are still being computed.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint

from core.demo.synthetic import make_face
from core.gt.engine import compute_gt
from core.imageio import save_png
from core.project import Project

from .helpers import drag, open_window

SHAPE = (120, 150)
BLUE = (40, 160, 220)


@pytest.fixture
def project_dir(tmp_path):
    """Two faces; the second has a blue square in the middle and a painted wrinkle mask."""
    src = tmp_path / "src"
    src.mkdir()
    save_png(src / "a-face.png", make_face(20, shape=SHAPE).image)
    second = np.array(make_face(21, shape=SHAPE).image)
    second[40:80, 55:95] = BLUE
    save_png(src / "b-blue.png", second)
    root = tmp_path / "project"
    with Project.create(root, name="large") as project:
        for _ in project.import_images(src, copy=True):
            pass
        rough = np.zeros(SHAPE, bool)
        rough[5:30, 5:60] = True  # around the forehead lines, away from the square
        b = next(r.id for r in project.images() if r.name == "b-blue.png")
        project.save_rough(b, {"wrinkle": rough})
    return root


@pytest.fixture
def gate(monkeypatch):
    """Hold texture-map computations on worker threads until the gate is set."""
    import core.gt.document as document_module
    from app.gui import session as session_module

    monkeypatch.setattr(session_module, "LARGE_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(session_module, "PREFETCH_MAX_PIXELS", 1000)  # as 6000x4000 photos
    event = threading.Event()
    event.set()
    real = document_module.compute_textures

    def held(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            event.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(document_module, "compute_textures", held)
    yield event
    event.set()


def center_color(w) -> tuple[int, int, int]:
    vp = w.canvas.viewport()
    image = vp.grab().toImage()
    center = w.canvas.image_to_view(SHAPE[0] / 2, SHAPE[1] / 2).toPoint()
    c = image.pixelColor(QPoint(center.x(), center.y()))
    return c.red(), c.green(), c.blue()


def test_large_image_is_shown_and_paintable_before_its_maps_and_gt_follows(
    qtbot, project_dir, gate
):
    w = open_window(qtbot, project_dir, ahead=False)
    try:
        s = w.session
        first, second = (r.id for r in s.records())
        qtbot.waitUntil(lambda: s.document.textures_ready, timeout=10000)
        gate.clear()  # from now on the maps wait
        w.open_image(second)
        # at once: the old image is gone and the new one's preview stands in its place
        assert w.canvas.previewing and w.canvas.document is None
        assert w.canvas.stack.preview_item.shape_ == SHAPE
        assert w.status.busy.isVisible() and "Loading b-blue.png" in w.status.currentMessage()
        qtbot.waitUntil(lambda: s.current.image_id == second, timeout=10000)
        doc = s.document
        # the image itself is on screen while its maps are still being computed
        assert not doc.textures_ready and not w.canvas.previewing
        assert np.abs(np.subtract(center_color(w), BLUE)).max() <= 8
        assert w.canvas.editable and doc.gt("wrinkle").max() == 0
        # the status bar says what is being computed, with a step count
        qtbot.waitUntil(lambda: "texture maps" in w.status.currentMessage(), timeout=5000)
        assert "painting works" in w.status.currentMessage()
        assert w.status.busy.isVisible() and w.status.busy.maximum() == 2
        # a stroke painted now is kept
        drag(w.canvas, [(100.0, 10.0), (100.0, 60.0)])
        stroke = doc.rough("wrinkle")[100, 10:60]
        assert stroke.all()
        gate.set()
        qtbot.waitUntil(lambda: doc.textures_ready, timeout=10000)
        qtbot.waitUntil(lambda: not w.status.busy.isVisible(), timeout=10000)
        rough = {"wrinkle": doc.rough("wrinkle"), "pore": doc.rough("pore")}
        assert rough["wrinkle"][100, 10:60].all() and rough["wrinkle"][5:30, 5:60].all()
        want = compute_gt(doc.image, rough, doc.params)
        assert np.array_equal(doc.gt("wrinkle"), want["wrinkle"]) and want["wrinkle"].any()
        # ... and the GT layer is drawn
        gt_layer = w.canvas.stack.overlays["gt"].array
        assert (gt_layer[want["wrinkle"] > 0] != 0).all()
        assert doc.can_undo  # the early stroke is one undo step like any other
    finally:
        gate.set()
        w.close()


def test_leaving_before_the_maps_are_done_and_coming_back(qtbot, project_dir, gate):
    w = open_window(qtbot, project_dir, ahead=False)
    try:
        s = w.session
        first, second = (r.id for r in s.records())
        qtbot.waitUntil(lambda: s.document.textures_ready, timeout=10000)
        gate.clear()
        w.open_image(second)
        qtbot.waitUntil(lambda: s.current.image_id == second, timeout=10000)
        left = s.document
        w.open_image(first)  # cached: back at once, with its maps
        qtbot.waitUntil(lambda: s.current.image_id == first, timeout=10000)
        assert s.document.textures_ready and not w.canvas.previewing
        gate.set()
        w.open_image(second)  # from the cache: its maps are computed again if dropped
        qtbot.waitUntil(lambda: s.current.image_id == second, timeout=10000)
        assert s.document is left
        qtbot.waitUntil(lambda: left.textures_ready, timeout=10000)
        assert left.gt("wrinkle").any()
    finally:
        gate.set()
        w.close()


def test_a_failed_load_puts_the_previous_image_back(qtbot, project_dir, gate):
    w = open_window(qtbot, project_dir, ahead=False)
    try:
        s = w.session
        first, second = (r.id for r in s.records())
        qtbot.waitUntil(lambda: s.document.textures_ready, timeout=10000)
        shown = s.document
        s.project.image(second).path.unlink()  # the file went away
        w.open_image(second)
        assert w.canvas.previewing
        qtbot.waitUntil(lambda: not w.canvas.previewing, timeout=10000)
        assert w.canvas.document is shown and s.current.image_id == first
        assert any("not found" in m for m in w.messages)
    finally:
        gate.set()
        w.close()


def test_image_layer_shares_the_document_pixels_and_texture_layer_is_one_byte(qtbot, project_dir):
    from app.gui.layer_stack import texture_to_uint8

    w = open_window(qtbot, project_dir, ahead=False)
    try:
        doc = w.session.document
        stack = w.canvas.stack
        item = stack.image_item
        assert np.shares_memory(item.array, doc.image)  # no copy of the pixels
        # nothing painted, no pre-label: no overlay buffers at all (4 bytes per pixel each)
        assert not doc.rough("wrinkle").any() and w.layers.prediction() is None
        assert not {"rough", "gt", "prediction"} & set(stack.overlays)
        drag(w.canvas, [(20.0, 20.0), (20.0, 60.0)])
        assert {"rough", "gt"} <= set(stack.overlays)
        assert (stack.overlays["rough"].array[20, 20:60] != 0).all()
        assert (stack.overlays["rough"].array[60:] == 0).all()
        w.layers.set_visible("texture", True)
        texture = w.canvas.stack.overlays["texture"].array
        assert texture.dtype == np.uint8 and texture.shape == doc.shape
        want = texture_to_uint8(getattr(doc.textures, w.canvas.stack.texture_class))
        assert np.array_equal(texture, want)
    finally:
        w.close()


def test_jpeg_preview_is_a_reduced_decode_and_png_has_none(tmp_path):
    from PIL import Image

    from app.gui.documents import load_preview

    image = np.array(make_face(3, shape=(400, 600)).image)
    Image.fromarray(image).save(tmp_path / "a.jpg", quality=90)
    save_png(tmp_path / "a.png", image)
    small = load_preview(tmp_path / "a.jpg", side=150)
    assert small is not None and small.dtype == np.uint8
    assert max(small.shape[:2]) <= 150 and small.shape[2] == 3
    assert abs(small.shape[0] / small.shape[1] - 400 / 600) < 0.05
    assert load_preview(tmp_path / "a.png") is None


def test_back_to_the_default_while_other_parameters_compute_ends_on_the_default(
    qtbot, project_dir, gate
):
    """Back to the old parameters while a recomputation runs: the old ones must win.

    The running worker still shows the old parameters on the document; returning to them
    must queue behind it, or the worker finishes last and its parameters stay applied.
    """
    from dataclasses import replace

    w = open_window(qtbot, project_dir, ahead=False)
    try:
        s = w.session
        doc = s.document
        qtbot.waitUntil(lambda: doc.textures_ready, timeout=10000)
        image_id = s.current.image_id
        default = s.project.params(None)
        gate.clear()  # the recomputation for sigma 25 waits on the gate
        s.set_params(replace(default, sigma=25.0), image_id)
        assert doc.params == default  # not applied before its maps are done
        s.clear_override(image_id)
        gate.set()
        qtbot.waitUntil(lambda: s._params_worker is None or s._params_worker.ended, timeout=10000)
        assert doc.params == default
    finally:
        gate.set()
        w.close()
