"""The open image's history: who moved it to which status, when, and why.

A rejected image shows the reviewer's comment in a banner above the table (and in
the status bar when it is opened), so the annotator sees what to fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..fit import fit_table
from ..image_list import STATUS_LABELS
from ..workers import describe_error

if TYPE_CHECKING:
    from core.project.records import HistoryEntry

    from ..documents import LoadedDocument
    from ..parts import Frame, Notifier
    from ..session import AnnotationSession

COLUMNS = ("When\n(UTC)", "Who", "Change", "Comment")


def status_label(value: Any) -> str:
    if value is None:
        return "—"
    text = str(getattr(value, "value", value))
    return STATUS_LABELS.get(text, text)


class HistoryView(QWidget):
    """Table of the open image's history entries, newest first, and a rejection banner."""

    def __init__(self, notifier: Notifier | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: Says a rejection's comment in the status bar when the image opens (if given).
        self.notifier = notifier
        self.session: AnnotationSession | None = None
        self.image_id: int | None = None
        self.entries: list[HistoryEntry] = []
        self._fit_pending = False  # rows changed while hidden: fit the columns on show
        self.banner = QLabel("")
        self.banner.setObjectName("rejection_banner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(
            "QLabel { background: #D55E00; color: white; padding: 6px; border-radius: 3px; }"
        )
        self.banner.hide()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setToolTip("Every status change of the open image, newest first")
        fit_table(self.table)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)

    def attach(self, session: AnnotationSession | None) -> None:
        if self.session is not None:
            self.session.documentOpened.disconnect(self._on_opened)
            self.session.statusChanged.disconnect(self._on_status)
        self.session = session
        self.show_image(None)
        if session is not None:
            session.documentOpened.connect(self._on_opened)
            session.statusChanged.connect(self._on_status)
            if session.current is not None:
                self.show_image(session.current.image_id)

    def _on_opened(self, loaded: LoadedDocument) -> None:
        self.show_image(loaded.image_id)
        comment = self.rejection_comment()
        if comment is not None:
            if self.notifier is not None:
                self.notifier.show(f"Rejected: {comment}", 15000)

    def _on_status(self, image_id: int, _status: str) -> None:
        if image_id == self.image_id:
            self.show_image(image_id)

    def show_image(self, image_id: int | None) -> None:
        """Show ``image_id``'s history (None clears)."""
        self.image_id = image_id
        self.entries = []
        if image_id is not None and self.session is not None:
            try:
                self.entries = list(self.session.project.history(image_id))
            except Exception as exc:  # a damaged catalog row must not break the window
                self.banner.setText(describe_error(exc))
                self.banner.show()
                return
        self.table.setRowCount(len(self.entries))
        for row, e in enumerate(reversed(self.entries)):
            when = str(e.time).replace("T", " ").rstrip("Z")
            cells = (
                when[:16].replace(" ", "\n"),  # day over minute: the dock is narrow
                str(e.user),
                f"{status_label(e.from_status)} → {status_label(e.to_status)}",
                e.comment or "",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(when if col == 0 else text)
                self.table.setItem(row, col, item)
        comment = self.rejection_comment()
        if comment is None:
            self.banner.hide()
        else:
            who = self.entries[-1].user
            self.banner.setText(f"Rejected by {who}: {comment}")
            self.banner.show()
        # Fitting the columns measures every cell: only worth it when the table is seen
        # (the dock is usually a tab behind the GT parameters); otherwise on show.
        self._fit_pending = not self.isVisible()
        if not self._fit_pending:
            fit_table(self.table)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self._fit_pending:
            self._fit_pending = False
            fit_table(self.table)

    def rejection_comment(self) -> str | None:
        """The comment of the rejection, if the image's latest move rejected it."""
        if not self.entries:
            return None
        last = self.entries[-1]
        if status_label(last.to_status) != "rejected":
            return None
        return last.comment or "(no comment)"


def install(frame: Frame) -> HistoryView:
    """Build the history dock."""
    view = HistoryView(frame.notifier)
    frame.add_tabbed_dock("History", view, "history", beside="params")
    frame.session_changed.connect(view.attach)
    view.attach(None)
    return view
