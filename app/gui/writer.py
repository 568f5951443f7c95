"""One serial background writer for everything that goes to the project on disk.

All mask saves and catalog writes of the window go through a single
:class:`SerialWriter` thread (Anki's single collection executor): writes never race
each other, the GUI thread never waits on disk, and a newer save of the same key
replaces an older one that has not started yet.

It stays a QThread, not a superqt worker like the window's other work
(:mod:`app.gui.workers`): it lives as long as the session, and as a pool worker it would
hold one of the global pool's threads (two on a two-core machine) for good.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable
from typing import ClassVar

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from .workers import failure_message


class SerialWriter(QThread):
    """A QThread that runs submitted jobs one at a time, in order."""

    failed = Signal(object, str)  # the job key and a one-line message
    written = Signal(object, object)  # the job key and its result, after success

    #: Every writer still alive, so quitting can finish their writes (see :meth:`stop_all`).
    _live: ClassVar[weakref.WeakSet[SerialWriter]] = weakref.WeakSet()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        SerialWriter._live.add(self)
        self._cond = threading.Condition()
        self._order: deque[Hashable] = deque()
        self._jobs: dict[Hashable, Callable[[], object]] = {}
        self._running: Hashable | None = None
        self._stopping = False
        self.start()

    def submit(self, key: Hashable, job: Callable[[], object]) -> None:
        """Queue ``job``; replaces a queued (not yet started) job with the same key."""
        with self._cond:
            if self._stopping:
                raise RuntimeError("the writer is stopped")
            if key not in self._jobs:
                self._order.append(key)
            self._jobs[key] = job
            self._cond.notify_all()

    def pending(self) -> int:
        """Jobs queued or running."""
        with self._cond:
            return len(self._order) + (self._running is not None)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued job has run; False if ``timeout`` s passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._order or self._running is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    @classmethod
    def stop_all(cls) -> None:
        """Finish and end every running writer (on quit: no write is lost, and no
        QThread is destroyed while it runs)."""
        for writer in list(cls._live):
            # A writer whose C++ side Qt already deleted has stopped (deletion waits for it).
            if shiboken6.isValid(writer) and writer.isRunning():
                writer.stop()

    def stop(self) -> None:
        """Run what is queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.wait()

    def run(self) -> None:
        while True:
            with self._cond:
                while not self._order and not self._stopping:
                    self._cond.wait()
                if not self._order:
                    return
                key = self._order.popleft()
                job = self._jobs.pop(key)
                self._running = key
            try:
                result = job()
            except Exception as exc:
                self.failed.emit(key, f"could not save: {failure_message(exc)}")
            else:
                self.written.emit(key, result)
            finally:
                with self._cond:
                    self._running = None
                    self._cond.notify_all()
