"""The first-run start hint: what to press first, over the canvas until dismissed.

Shown while a project is open until the user presses *Got it* (remembered in QSettings);
Help → *Start hint* shows it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from .parts import Frame
    from .session import AnnotationSession

#: QSettings key set once the hint was dismissed.
DISMISSED_KEY = "hints/start_dismissed"

HINT_HTML = (
    "<b>Start here.</b> Paint a rough stroke over each wrinkle with the <b>brush (B)</b>; "
    "press <b>P</b> for pores and <b>W</b> for wrinkles, <b>[</b> and <b>]</b> for the "
    "brush size, <b>E</b> to erase, <b>Ctrl+Z</b> to undo. The ground truth appears as "
    "solid colour inside your strokes. <b>Ctrl+Enter</b> submits and opens the next new "
    "image; <b>F1</b> lists every shortcut."
)


class StartHint(QFrame):
    """A dismissible box at the top left of the canvas."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("start_hint")
        self.setStyleSheet(
            "#start_hint { background: rgba(20, 20, 20, 225); border: 1px solid #E69F00;"
            " border-radius: 6px; } #start_hint QLabel { color: #f0f0f0; background: transparent; }"
        )
        self.text = QLabel(HINT_HTML)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.dismiss_button = QPushButton("Got it")
        self.dismiss_button.setToolTip("Hide this hint for good (Help → Start hint shows it)")
        self.dismiss_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay on the canvas
        self.dismiss_button.clicked.connect(self.dismiss)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.dismiss_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.setFixedWidth(430)
        self.hide()

    def place(self) -> None:
        self.adjustSize()
        self.move(12, 12)
        self.raise_()

    def dismiss(self) -> None:
        QSettings().setValue(DISMISSED_KEY, True)
        self.hide()


def dismissed() -> bool:
    value = QSettings().value(DISMISSED_KEY, False)
    return value is True or str(value).lower() == "true"


def install(frame: Frame) -> StartHint:
    """Build the hint over ``frame``'s canvas and a Help menu entry to show it again."""
    hint = StartHint(frame.canvas)
    open_session: list[AnnotationSession] = []  # the project open now, if any

    def show_hint(force: bool = False) -> None:
        if open_session and (force or not dismissed()):
            hint.place()
            hint.show()

    def on_session(session: AnnotationSession | None) -> None:
        open_session[:] = [] if session is None else [session]
        if session is None:
            hint.hide()
        else:
            show_hint()

    frame.session_changed.connect(on_session)
    frame.menus.help.addAction(
        frame.registry.add("start_hint", "&Start hint", lambda: show_hint(force=True))
    )
    return hint
