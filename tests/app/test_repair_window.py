"""The image list's damage badges and Image → Repair damaged masks, in a real window."""

from __future__ import annotations

import numpy as np
import pytest

from core.project import Project

from .helpers import SHAPE, make_project, open_window


@pytest.fixture
def damaged(tmp_path):
    """A project whose second image has a damaged wrinkle mask and a sound pore mask."""
    root = make_project(tmp_path)
    with Project.open(root) as p:
        ids = [r.id for r in p.images()]
        pore = np.zeros(SHAPE, bool)
        pore[10:20, 10:30] = True
        p.save_rough(ids[1], {"wrinkle": pore, "pore": pore})
    (root / "masks" / str(ids[1]) / "wrinkle.png").write_bytes(b"\x89PNG broken")
    return root, ids, pore


def test_damaged_mask_gets_a_badge_and_repair_makes_the_image_open_again(
    qtbot, damaged, monkeypatch
):
    root, ids, pore = damaged
    w = open_window(qtbot, root)
    try:
        qtbot.waitUntil(lambda: w.image_list.damage(ids[1]) == ["wrinkle mask damaged"])
        assert w.image_list.damage(ids[0]) == []
        tip = w.image_list.model.index(1).data(3)  # ToolTipRole
        assert "wrinkle mask damaged" in tip
        w.open_image(ids[1])
        qtbot.waitUntil(lambda: w.damage.failed_id == ids[1], timeout=5000)
        assert w.session.current.image_id == ids[0]  # the damaged one did not open
        assert any("does not match the catalog" in m for m in w.messages)
        asked: list[str] = []
        monkeypatch.setattr(w.notifier, "ask", lambda q: asked.append(q) or True)
        w.registry["repair_image"].trigger()
        assert "wrinkle mask damaged of image" in asked[0] and "backup" in asked[0]
        qtbot.waitUntil(
            lambda: w.session.current is not None and w.session.current.image_id == ids[1],
            timeout=5000,
        )
        qtbot.waitUntil(lambda: w.image_list.damage(ids[1]) == [], timeout=5000)
        doc = w.session.current.document
        assert not doc.rough("wrinkle").any()  # cleared, ready to paint again
        np.testing.assert_array_equal(doc.rough("pore"), pore)  # the sound mask is kept
        backups = list((root / "masks" / str(ids[1])).glob("wrinkle.damaged-*.png"))
        assert [b.read_bytes() for b in backups] == [b"\x89PNG broken"]
    finally:
        w.close()


def test_repair_in_a_read_only_window_says_how(qtbot, damaged):
    root, ids, _ = damaged
    w = open_window(qtbot, root, read_only=True)
    try:
        qtbot.waitUntil(lambda: bool(w.image_list.damage(ids[1])))
        w.open_image(ids[1])
        qtbot.waitUntil(lambda: w.damage.failed_id == ids[1], timeout=5000)
        w.registry["repair_image"].trigger()
        assert "read-only" in w.messages[-1]
    finally:
        w.close()


def test_right_click_on_a_damaged_image_offers_repair(qtbot, damaged, monkeypatch):
    root, ids, _ = damaged
    w = open_window(qtbot, root)
    try:
        qtbot.waitUntil(lambda: bool(w.image_list.damage(ids[1])))
        view = w.image_list.view
        monkeypatch.setattr(w.notifier, "ask", lambda q: True)
        for row, enabled in ((0, False), (1, True)):
            rect = view.visualRect(w.image_list.proxy.index(row, 0))
            view.customContextMenuRequested.emit(rect.center())
            (action,) = w.damage.menu.actions()
            assert action.text() == "Repair damaged masks…" and action.isEnabled() is enabled
            w.damage.menu.close()
        action.trigger()  # row 1: the damaged image, never opened before
        qtbot.waitUntil(lambda: w.image_list.damage(ids[1]) == [], timeout=5000)
        qtbot.waitUntil(lambda: w.session.current.image_id == ids[1], timeout=5000)
    finally:
        w.close()
