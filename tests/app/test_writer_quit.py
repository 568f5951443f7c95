"""Quitting finishes every writer's queued writes (no write lost, no running QThread left)."""

from __future__ import annotations

import threading

from app.gui.writer import SerialWriter


def test_stop_all_runs_queued_jobs_and_ends_every_writer(qtbot):
    gate = threading.Event()
    done: list[str] = []
    writers = [SerialWriter(), SerialWriter()]
    writers[0].submit("slow", lambda: (gate.wait(5), done.append("slow")))
    writers[0].submit("next", lambda: done.append("next"))
    writers[1].submit("other", lambda: done.append("other"))
    gate.set()
    SerialWriter.stop_all()
    assert sorted(done) == ["next", "other", "slow"]
    assert not any(w.isRunning() for w in writers)
