"""Run long work off the GUI thread with superqt's workers; results arrive on the GUI thread.

The workers are superqt's (:class:`superqt.utils.FunctionWorker` for a plain callable,
:class:`superqt.utils.GeneratorWorker` for a core generator), as napari uses them: their
signals (``returned``, ``errored``, ``yielded``, ``aborted``, ``finished``) are emitted on
the pool thread and delivered, queued, on the GUI thread. This module adds only what the
window needs on top:

- :func:`start` queues a worker on a chosen pool with a priority. superqt's
  ``worker.start()`` knows only the global pool, and the window keeps some work on its own
  one-thread pools (thumbnails, pre-labels, faces, the repair check) so that it never
  holds back the image loads on the global pool. Like superqt's ``start`` it keeps the
  worker referenced until its ``finished`` signal has arrived (a worker dropped earlier
  takes its signals object with it and its queued results are never delivered), and it
  hands the pool ``worker.run`` rather than the worker, which stays Python's to free.
- Both workers run superqt's ``run()`` without its redirection of warnings (see
  :class:`_Run`: process-wide state that overlapping workers corrupted).
- :class:`Job` and :class:`ProgressWorker` remember on the GUI thread their ``result`` /
  ``error`` and whether they have ``ended`` (after every handler), for callers that look
  later.
- :class:`ProgressWorker` drives a core generator of :class:`~core.progress.Progress`
  and cancels it through a :class:`~core.progress.CancelToken` (core checks the token
  inside long steps; the worker checks it between steps): a cancelled run emits
  ``aborted``, not ``errored``, and the generator is closed on its own thread.
- :func:`failure_message` turns an ``errored`` exception into one line for the user.
"""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

from PySide6.QtCore import QThreadPool
from superqt.utils import FunctionWorker, GeneratorWorker, WorkerBase

from core.errors import Cancelled, SkinTraceError
from core.progress import CancelToken, Progress

W = TypeVar("W", bound=WorkerBase)

#: Workers queued or running, each kept until its ``finished`` signal is delivered.
_running: set[WorkerBase] = set()


def describe_error(exc: BaseException) -> str:
    """One line for a user: the message of our own errors, type and message otherwise."""
    if isinstance(exc, SkinTraceError):
        return str(exc)
    if isinstance(exc, OSError):
        name = f" {exc.filename}" if exc.filename else ""
        return f"cannot access{name}: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


def failure_message(exc: BaseException) -> str:
    """:func:`describe_error`, after printing the traceback of an unexpected error (a bug)."""
    if not isinstance(exc, SkinTraceError | OSError):
        traceback.print_exception(exc)
    return describe_error(exc)


class _Run:
    """superqt's ``WorkerBase.run`` without its redirection of warnings, for both workers.

    superqt wraps each run in ``warnings.catch_warnings()`` and points the process-wide
    ``warnings.showwarning`` at the worker; that state is global and ``catch_warnings`` is
    not thread-safe (before Python 3.14), so two workers that overlap leave it pointing at
    a finished worker (and every later warning is sent there, or raises). Here warnings
    print as usual. A RuntimeError that superqt's ``GeneratorWorker.work`` returns (one
    raised in the generator: torch raises them) is reported through ``errored`` instead of
    a warning with no signal at all.
    """

    def run(self: Any) -> None:
        self.started.emit()
        self._running = True
        try:
            result = self.work()
            if isinstance(result, Exception):
                raise result
            if not self.abort_requested:
                self.returned.emit(result)
        except Exception as exc:
            self.errored.emit(exc)
        self._running = False
        self.finished.emit()
        self._finished.emit(self)  # (what superqt's own start() listens to)


def start(worker: W, pool: QThreadPool | None = None, priority: int = 0) -> W:
    """Queue ``worker`` on ``pool`` (default: the global pool); a higher ``priority`` runs first.

    Connect to the worker's signals before calling this.
    """
    # Kept until its ``finished`` arrives: the signals object goes with the worker, and a
    # queued signal whose sender is gone is never delivered. Through a weak reference, as
    # PySide keeps a connected lambda as long as the signals object: a lambda holding the
    # worker would keep it (and its result) forever.
    _running.add(worker)
    ref = weakref.ref(worker)

    def forget(*_: object) -> None:
        found = ref()
        if found is not None:
            _running.discard(found)

    worker.finished.connect(forget)
    # The pool runs ``worker.run`` (it holds it until run() has returned), not the worker
    # itself: handed to Qt, a Python QRunnable passes to C++ ownership, and PySide 6.11
    # then often never frees it (measured: 118 of 150 superqt FunctionWorkers stayed).
    (pool or QThreadPool.globalInstance()).start(worker.run, priority)
    return worker


def running() -> int:
    """Workers started with :func:`start` whose ``finished`` has not arrived yet."""
    return len(_running)


def on_failure(worker: Job | ProgressWorker, handler: Callable[[str], None]) -> None:
    """Call ``handler`` with the one-line message when ``worker`` fails (GUI thread)."""
    worker.errored.connect(lambda exc: handler(describe_error(exc)))  # (not holding worker)


class Job(_Run, FunctionWorker):
    """superqt's FunctionWorker for ``fn()``, remembering its end on the GUI thread.

    ``result`` or ``error`` are set before the caller's ``returned`` / ``errored`` handlers
    run; ``ended`` becomes True with ``finished``, once those handlers have all run (each
    connection is its own queued call, so a poller seeing ``ended`` sees their effects).
    """

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(fn)
        self.ended = False
        self.result: Any = None
        self.error: str | None = None
        self._later: list[tuple[Callable[[Any], None], Callable[[str], None]]] = []
        self.returned.connect(self._on_returned)
        self.errored.connect(self._on_errored)
        self.finished.connect(self._on_finished)

    def then(self, on_done: Callable[[Any], None], on_error: Callable[[str], None]) -> None:
        """Call ``on_done(result)`` or ``on_error(message)`` once the job has ended (GUI thread).

        For a caller that comes after the start: a handler connected to ``returned`` then
        may miss it (the signal goes only to the connections that existed when the pool
        thread emitted it). Runs at once when the job has already ended.
        """
        if not self.ended:
            self._later.append((on_done, on_error))
        elif self.error is None:
            on_done(self.result)
        else:
            on_error(self.error)

    def _on_returned(self, result: Any) -> None:
        self.result = result

    def _on_errored(self, exc: BaseException) -> None:
        self.error = failure_message(exc)

    def _on_finished(self, *_: object) -> None:
        self.ended = True
        later, self._later = self._later, []
        for on_done, on_error in later:
            if self.error is None:
                on_done(self.result)
            else:
                on_error(self.error)


def run_function(
    fn: Callable[[], Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    pool: QThreadPool | None = None,
    priority: int = 0,
) -> Job:
    """Run ``fn()`` in a :class:`Job` on ``pool``; the callbacks run on the GUI thread.

    ``on_error`` receives the one-line :func:`failure_message`.
    """
    job = Job(fn)
    if on_done is not None:
        job.returned.connect(on_done)
    if on_error is not None:
        on_failure(job, on_error)
    return start(job, pool, priority)


def _steps(make: Callable[[], Iterator[Progress]], token: CancelToken) -> Generator[Progress, None, Progress | None]:  # fmt: skip
    """Yield ``make()``'s steps, checking ``token`` after each; return the last step."""
    last: Progress | None = None
    gen = make()
    try:
        for step in gen:
            last = step
            yield step
            token.raise_if_cancelled()
    finally:
        close = getattr(gen, "close", None)
        if close is not None:
            close()  # on this (the worker's) thread, not whenever it is collected
    return last


class ProgressWorker(_Run, GeneratorWorker):
    """superqt's GeneratorWorker for a core Progress generator, cancelled by a token.

    ``yielded`` carries each :class:`~core.progress.Progress`; ``returned`` the last one
    (None when there was none); ``errored`` the exception; ``aborted`` a cancellation
    (:meth:`cancel`, or :class:`~core.errors.Cancelled` raised inside the generator).
    ``token`` is what the generator checks. ``error`` is set before the caller's
    ``errored`` handlers run; ``ended`` becomes True with ``finished``, after them all.
    """

    def __init__(self, make: Callable[[], Iterator[Progress]]) -> None:
        self.token = CancelToken()
        super().__init__(_steps, make, self.token)
        self.ended = False
        self.error: str | None = None
        self.errored.connect(self._on_errored)
        self.finished.connect(self._on_finished)

    def _on_errored(self, exc: BaseException) -> None:
        self.error = failure_message(exc)

    def _on_finished(self, *_: object) -> None:
        self.ended = True

    def cancel(self) -> None:
        """Ask the generator to stop: at its next token check, or after the running step."""
        self.token.cancel()

    def work(self) -> Any:
        try:
            return super().work()
        except Cancelled:
            WorkerBase.quit(self)  # no ``returned``
            self.aborted.emit()
            return None
