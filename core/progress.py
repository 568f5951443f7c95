"""Progress values yielded by long-running core generators.

Long work in core (import, export, training, batch inference) is written as a
generator that yields :class:`Progress` objects and checks a
:class:`CancelToken`. The CLI renders them as progress bars; the GUI runs the
generator in a worker thread or process and forwards them as signals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from core.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """One step of long work: ``done`` of ``total`` units, with a short message."""

    done: int
    total: int
    message: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


class CancelToken:
    """Thread-safe cancellation flag checked by long-running generators."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")
