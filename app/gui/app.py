"""Start the Qt application and show the annotation window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication

from .resources import icon, style_sheet
from .writer import SerialWriter


def application() -> QApplication:
    """The QApplication (created once, with SkinTrace's names and style)."""
    app = QApplication.instance()
    if app is None:
        QCoreApplication.setOrganizationName("SkinTrace")
        QCoreApplication.setApplicationName("SkinTrace")
        app = QApplication(sys.argv[:1])
        app.setStyle("Fusion")
        app.setStyleSheet(style_sheet())
        app.setWindowIcon(icon("skintrace"))
        app.aboutToQuit.connect(SerialWriter.stop_all)
    return app  # type: ignore[return-value]


def run_window(project: str | Path | None, *, read_only: bool = False) -> int:
    """Open ``project`` in a new window and run the event loop until it closes."""
    from .main_window import MainWindow

    app = application()
    window = MainWindow()
    if project is not None:
        window.open_project(project, read_only=read_only)
    window.show()
    return app.exec()
