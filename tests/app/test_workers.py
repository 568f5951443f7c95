"""The window's workers: superqt's, started on the window's pools, results on the GUI thread."""

from __future__ import annotations

import gc
import threading
import warnings
import weakref

import pytest
from PySide6.QtCore import QThread, QThreadPool, QTimer

from app.gui import workers
from app.gui.workers import Job, ProgressWorker, on_failure, run_function, start
from core.errors import Cancelled, SkinTraceError
from core.progress import Progress


def test_every_result_of_dropped_workers_arrives_on_the_gui_thread(qtbot):
    # Nothing keeps these workers but start(): superqt's signals object goes with the worker,
    # so a worker dropped before its signals arrive would lose them (what the old 2 s
    # keep-alive timer guarded against).
    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    got: list[tuple[int, bool]] = []
    gui = QThread.currentThread()
    for i in range(100):
        run_function(lambda i=i: i, on_done=lambda r: got.append((r, QThread.currentThread() is gui)), pool=pool)  # fmt: skip
    pool.waitForDone()  # every worker has run and Qt has deleted it; no signal has arrived
    gc.collect()  # (a worker's connections to its own methods make a reference cycle)
    qtbot.waitUntil(lambda: len(got) == 100 and workers.running() == 0, timeout=10000)
    assert sorted(got) == [(i, True) for i in range(100)]


def test_a_finished_worker_is_freed_with_its_result(qtbot):
    # A worker kept after it ended would keep its function and result (a whole image for a
    # prefetch). Handed to Qt itself, PySide often never freed a worker whose signals were
    # delivered while its thread was still finishing: the event loop runs meanwhile here.
    refs = []
    for i in range(20):
        job = run_function(_fail if i % 2 else (lambda: bytearray(10)), on_error=lambda _m: None)
        progress = ProgressWorker(_steps(2, []))
        on_failure(progress, lambda _m: None)
        refs += [weakref.ref(job), weakref.ref(start(progress))]
        del job, progress
        qtbot.wait(5)
    qtbot.waitUntil(lambda: workers.running() == 0, timeout=10000)
    QThreadPool.globalInstance().waitForDone()
    qtbot.waitUntil(lambda: gc.collect() >= 0 and [r() for r in refs] == [None] * 40)


def test_overlapping_workers_leave_the_warnings_machinery_as_it_was(qtbot, capsys):
    # superqt's own run() swaps warnings.showwarning per worker; overlapping runs left it
    # pointing at a finished worker, with an "always" filter added for good.
    both = threading.Barrier(2, timeout=10)

    def overlapping(tag: str) -> str:
        both.wait()
        warnings.warn(f"from {tag}", UserWarning, stacklevel=1)
        both.wait()
        return tag

    pool = QThreadPool()
    pool.setMaxThreadCount(2)
    with pytest.warns(UserWarning, match="from"):  # they still reach the warnings machinery
        before = (warnings.showwarning, list(warnings.filters))
        jobs = [run_function(lambda t=t: overlapping(t), pool=pool) for t in ("a", "b")]
        qtbot.waitUntil(lambda: all(j.ended for j in jobs), timeout=10000)
        pool.waitForDone()
        after = (warnings.showwarning, list(warnings.filters))
    assert [j.result for j in jobs] == ["a", "b"]
    assert after == before


def test_a_failing_job_reports_one_line_and_ends(qtbot):
    messages: list[str] = []
    job = run_function(_raise(SkinTraceError("the project is gone")), on_error=messages.append)
    qtbot.waitUntil(lambda: job.ended, timeout=5000)
    assert messages == ["the project is gone"] and job.error == "the project is gone"
    assert job.result is None


def test_then_reports_a_job_that_ended_before_and_one_that_ends_after(qtbot):
    release = threading.Event()
    job = run_function(lambda: release.wait(10) and 7)
    seen: list[object] = []
    job.then(seen.append, seen.append)  # still running
    release.set()
    qtbot.waitUntil(lambda: job.ended, timeout=5000)
    job.then(lambda r: seen.append(("late", r)), seen.append)  # already ended: at once
    assert seen == [7, ("late", 7)]


def _steps(n: int, closed: list[str], token_box: list[ProgressWorker] | None = None):
    def make():
        try:
            for i in range(n):
                if token_box:
                    token_box[0].token.raise_if_cancelled()
                yield Progress(i + 1, n, f"step {i + 1}")
        finally:
            closed.append(threading.current_thread().name)

    return make


def test_a_progress_worker_forwards_each_step_and_returns_the_last(qtbot):
    closed: list[str] = []
    worker = ProgressWorker(_steps(3, closed))
    seen: list[int] = []
    ends: list[object] = []
    worker.yielded.connect(lambda p: seen.append(p.done))
    worker.returned.connect(ends.append)
    worker.aborted.connect(lambda: ends.append("aborted"))
    start(worker)
    qtbot.waitUntil(lambda: worker.ended, timeout=5000)
    assert seen == [1, 2, 3] and [getattr(e, "done", e) for e in ends] == [3]
    assert closed and closed[0] != threading.current_thread().name


def test_cancel_between_steps_aborts_and_closes_the_generator_on_its_thread(qtbot):
    closed: list[str] = []
    gate = threading.Event()

    def make():
        try:
            yield Progress(1, 3)
            gate.wait(10)
            yield Progress(2, 3)
            yield Progress(3, 3)
        finally:
            closed.append(threading.current_thread().name)

    worker = ProgressWorker(make)
    ends: list[object] = []
    worker.returned.connect(ends.append)
    worker.aborted.connect(lambda: ends.append("aborted"))
    on_failure(worker, ends.append)
    seen: list[int] = []

    def on_step(p: Progress) -> None:
        seen.append(p.done)
        worker.cancel()
        gate.set()

    worker.yielded.connect(on_step)
    start(worker)
    qtbot.waitUntil(lambda: worker.ended, timeout=5000)
    assert ends == ["aborted"] and seen[0] == 1 and len(seen) <= 2
    assert closed and closed[0] != threading.current_thread().name


def test_cancelled_raised_inside_the_generator_is_an_abort_not_an_error(qtbot):
    def make():
        yield Progress(1, 2)
        raise Cancelled("cancelled by the user")

    worker = ProgressWorker(make)
    ends: list[object] = []
    worker.aborted.connect(lambda: ends.append("aborted"))
    on_failure(worker, ends.append)
    start(worker)
    qtbot.waitUntil(lambda: worker.ended, timeout=5000)
    assert ends == ["aborted"] and worker.error is None


@pytest.mark.parametrize("exc", [RuntimeError("CUDA out of memory"), ValueError("bad shape")])
def test_an_error_in_the_generator_is_reported_even_a_runtime_error(qtbot, exc, capsys):
    # superqt alone turns a RuntimeError (torch raises them) into a warning and ends
    # without any signal: the window would wait forever.
    def make():
        yield Progress(1, 2)
        raise exc

    worker = ProgressWorker(make)
    messages: list[str] = []
    on_failure(worker, messages.append)
    start(worker)
    qtbot.waitUntil(lambda: worker.ended, timeout=5000)
    assert messages == [f"{type(exc).__name__}: {exc}"]
    assert type(exc).__name__ in capsys.readouterr().err  # the traceback of a bug is printed


def test_jobs_queue_on_the_given_pool(qtbot):
    # A one-thread pool runs the second job only after the first: on the global pool it
    # would run beside it and see the first unfinished.
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    release, first_done = threading.Event(), threading.Event()

    def first() -> None:
        release.wait(10)
        first_done.set()

    start(Job(first), pool)
    second = start(Job(first_done.is_set), pool, priority=1)
    QTimer.singleShot(100, release.set)
    qtbot.waitUntil(lambda: second.ended, timeout=15000)
    assert second.result is True
    pool.waitForDone()


def _fail() -> None:
    raise SkinTraceError("no")


def _raise(exc: BaseException):
    def fn():
        raise exc

    return fn
