"""The serial writer: order, coalescing, failures, waiting."""

from __future__ import annotations

import threading

import pytest

from app.gui.writer import SerialWriter
from core.errors import ProjectError

from .helpers import Recorder


@pytest.fixture
def writer(qapp):
    w = SerialWriter()
    yield w
    w.stop()


def test_jobs_run_in_order_on_one_thread(writer):
    seen: list[tuple[int, int]] = []
    for i in range(20):
        writer.submit(("job", i), lambda i=i: seen.append((i, threading.get_ident())))
    assert writer.wait_idle(5)
    assert [i for i, _ in seen] == list(range(20))
    assert len({t for _, t in seen}) == 1
    assert seen[0][1] != threading.get_ident()


def test_queued_job_with_same_key_is_replaced(writer):
    gate = threading.Event()
    seen: list[str] = []
    writer.submit("block", gate.wait)
    writer.submit("save", lambda: seen.append("old"))
    writer.submit("other", lambda: seen.append("other"))
    writer.submit("save", lambda: seen.append("new"))
    assert writer.pending() == 3
    gate.set()
    assert writer.wait_idle(5)
    assert seen == ["new", "other"]


def test_failure_is_reported_and_writer_keeps_going(writer, qtbot):
    seen: list[str] = []

    def boom() -> None:
        raise ProjectError("disk is full")

    failed = Recorder(writer.failed)
    writer.submit("bad", boom)
    writer.submit("good", lambda: seen.append("ok"))
    qtbot.waitUntil(lambda: bool(failed.calls), timeout=5000)
    assert failed.calls[0][0] == "bad"
    assert "disk is full" in failed.calls[0][1]
    assert writer.wait_idle(5)
    assert seen == ["ok"]


def test_written_carries_result(writer, qtbot):
    written = Recorder(writer.written)
    writer.submit("k", lambda: 42)
    qtbot.waitUntil(lambda: bool(written.calls), timeout=5000)
    assert written.calls == [("k", 42)]


def test_stop_runs_what_is_queued(qapp):
    w = SerialWriter()
    seen: list[int] = []
    for i in range(5):
        w.submit(i, lambda i=i: seen.append(i))
    w.stop()
    assert seen == list(range(5))
    with pytest.raises(RuntimeError):
        w.submit("late", lambda: None)
