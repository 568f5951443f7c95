"""Layout helpers so every dock fits a small screen: never a cut button, never a
horizontal scroll bar, table columns wide enough to read.

- :class:`FitScrollArea` scrolls its panel vertically only and asks for the panel's
  minimum width, so the dock area widens rather than cutting a button off.
- :func:`fit_table` sizes a table's columns to their contents, wraps the last (free text)
  column over several lines and makes the table ask for the width its columns need.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHeaderView, QScrollArea, QTableWidget, QWidget

#: Narrowest the last, stretching column of a table may get (pixels).
MIN_TEXT_COLUMN = 90


class FitScrollArea(QScrollArea):
    """A vertical-only scroll area as wide as its panel needs."""

    def __init__(self, widget: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        widget = self.widget()
        if widget is None:
            return hint
        width = widget.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), width + 2 * self.frameWidth()), hint.height())


def fit_table(table: QTableWidget, *, min_text: int = MIN_TEXT_COLUMN) -> None:
    """Columns to their contents, the last one stretching and wrapping; no horizontal bar.

    Call it after the rows change: the table then asks its dock for the width it needs.
    """
    header = table.horizontalHeader()
    last = table.columnCount() - 1
    for i in range(last):
        header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(last, QHeaderView.ResizeMode.Stretch)
    header.setTextElideMode(Qt.TextElideMode.ElideNone)
    table.setWordWrap(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.resizeColumnsToContents()
    need = sum(max(header.sectionSizeHint(i), table.sizeHintForColumn(i)) for i in range(last))
    need += max(min_text, header.sectionSizeHint(last))
    need += 2 * table.frameWidth() + table.verticalScrollBar().sizeHint().width()
    if table.verticalHeader().isVisible():
        need += table.verticalHeader().width()
    table.setMinimumWidth(need)
