"""Run long work off the GUI thread and deliver results back on it.

:func:`run_function` runs a plain callable on the global thread pool;
:class:`ProgressWorker` drives a core generator that yields
:class:`~core.progress.Progress`, forwarding each step and honouring cancellation.
Results and errors are emitted as signals and arrive on the GUI thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from core.errors import Cancelled, SkinTraceError
from core.progress import CancelToken, Progress


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
        traceback.print_exc()
    return describe_error(exc)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)
    progress = Signal(object)
    cancelled = Signal()


#: How long a finished worker is kept before Python may delete it. Its result arrives on the
#: GUI thread while the pool thread may still be returning from ``run()``; deleting the
#: runnable (or its signals object) under it would be a use-after-free.
RETIRE_MS = 2000


def _retire(alive: set[Any], worker: Any) -> None:
    """Drop ``worker`` from ``alive`` once the pool thread is surely done with it."""
    QTimer.singleShot(RETIRE_MS, lambda: alive.discard(worker))


def _emit(signal: Any, *args: Any) -> None:
    """Emit from a pool thread; the receiver may be gone when the app is shutting down."""
    try:
        signal.emit(*args)
    except RuntimeError:  # "Signal source has been deleted"
        pass


class _FunctionRunnable(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.fn = fn
        self.signals = signals

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # reported to the GUI, never raised on a pool thread
            _emit(self.signals.failed, failure_message(exc))
        else:
            _emit(self.signals.done, result)


class FunctionWorker(QObject):
    """Handle for :func:`run_function`; keeps its signals alive until finished."""

    done = Signal(object)
    failed = Signal(str)

    _alive: set[FunctionWorker] = set()

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)
        self._runnable = _FunctionRunnable(fn, self._signals)
        self._runnable.setAutoDelete(False)
        self.finished = False
        self.result: Any = None
        self.error: str | None = None

    def start(self, pool: QThreadPool | None = None, priority: int = 0) -> FunctionWorker:
        """Queue on ``pool`` (default: the global pool); a higher ``priority`` runs first."""
        FunctionWorker._alive.add(self)
        (pool or QThreadPool.globalInstance()).start(self._runnable, priority)
        return self

    def _on_done(self, result: Any) -> None:
        self.finished, self.result = True, result
        _retire(FunctionWorker._alive, self)
        self.done.emit(result)

    def _on_failed(self, message: str) -> None:
        self.finished, self.error = True, message
        _retire(FunctionWorker._alive, self)
        self.failed.emit(message)


def run_function(
    fn: Callable[[], Any],
    *,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    pool: QThreadPool | None = None,
) -> FunctionWorker:
    """Run ``fn()`` on ``pool`` (default: the global pool); callbacks run on the GUI thread."""
    worker = FunctionWorker(fn)
    if on_done is not None:
        worker.done.connect(on_done)
    if on_error is not None:
        worker.failed.connect(on_error)
    return worker.start(pool)


class _ProgressRunnable(QRunnable):
    def __init__(
        self, make: Callable[[], Iterator[Progress]], token: CancelToken, signals: _Signals
    ) -> None:
        super().__init__()
        self.make = make
        self.token = token
        self.signals = signals

    def run(self) -> None:
        last: Progress | None = None
        gen: Iterator[Progress] | None = None
        try:
            gen = self.make()
            for step in gen:
                last = step
                _emit(self.signals.progress, step)
                if self.token.cancelled:
                    raise Cancelled("cancelled by the user")
        except Cancelled:
            if gen is not None and hasattr(gen, "close"):
                gen.close()
            _emit(self.signals.cancelled)
        except Exception as exc:
            _emit(self.signals.failed, failure_message(exc))
        else:
            _emit(self.signals.done, last)


class ProgressWorker(QObject):
    """Drive a Progress generator on the thread pool; cancel between steps."""

    progress = Signal(object)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    _alive: set[ProgressWorker] = set()

    def __init__(self, make: Callable[[], Iterator[Progress]]) -> None:
        super().__init__()
        self.token = CancelToken()
        self._signals = _Signals()
        self._signals.progress.connect(self.progress)
        self._signals.done.connect(self._finish(self.done))
        self._signals.failed.connect(self._finish(self.failed))
        self._signals.cancelled.connect(self._finish(self.cancelled))
        self._runnable = _ProgressRunnable(make, self.token, self._signals)
        self._runnable.setAutoDelete(False)
        self.finished = False

    def _finish(self, signal: Any) -> Callable[..., None]:
        def handler(*args: Any) -> None:
            self.finished = True
            _retire(ProgressWorker._alive, self)
            signal.emit(*args)

        return handler

    def start(self, pool: QThreadPool | None = None) -> ProgressWorker:
        ProgressWorker._alive.add(self)
        (pool or QThreadPool.globalInstance()).start(self._runnable)
        return self

    def cancel(self) -> None:
        self.token.cancel()
