"""Bridge a document's plain-Python change callbacks to a Qt signal on the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from core.gt.document import AnnotationDocument


class DocumentBridge(QObject):
    """Re-emits ``document.subscribe`` notifications as :attr:`changed`.

    A notification made on the GUI thread is delivered synchronously (painting stays
    immediate); one made on another thread is queued to the GUI thread by Qt's
    automatic connection, so listeners always run on the GUI thread.
    """

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: Callable[[], None] | None = None

    def attach(self, document: AnnotationDocument | None) -> None:
        """Listen to ``document`` (None detaches)."""
        self.detach()
        if document is not None:
            self._unsubscribe = document.subscribe(self.changed.emit)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
