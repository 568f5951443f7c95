"""Start the Qt application and show the annotation window.

SIGINT (Ctrl-C in the terminal that started the window) and SIGTERM close the window
the normal way, which saves the open image and finishes every queued write, then quit
with exit status 128 + the signal number (130, 143) and one line on stderr. Qt runs its
event loop in C++, where Python cannot run a signal handler; a wake-up socket
(``signal.set_wakeup_fd`` + ``QSocketNotifier``) gives Python the turn at once.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSocketNotifier, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from .resources import icon, style_sheet
from .writer import SerialWriter

#: How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
#: The GUI thread takes the GIL back after every Qt call that released it; behind a
#: worker running Python (a save, a load) each take could wait the whole interval.
GUI_SWITCH_INTERVAL_S = 0.001

#: Signals that close the window (after saving) when sent from a terminal.
QUIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def application() -> QApplication:
    """The QApplication (created once, with SkinTrace's names and style)."""
    app = QApplication.instance()
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    if app is None:
        QCoreApplication.setOrganizationName("SkinTrace")
        QCoreApplication.setApplicationName("SkinTrace")
        app = QApplication(sys.argv[:1])
        app.setStyle("Fusion")
        app.setStyleSheet(style_sheet())
        app.setWindowIcon(icon("skintrace"))
        app.aboutToQuit.connect(SerialWriter.stop_all)
    return app  # type: ignore[return-value]


class QuitOnSignals:
    """Close ``window`` (saving) and quit the event loop on SIGINT or SIGTERM.

    Use as a context manager; the previous handlers and wake-up fd come back on exit.
    ``received`` is the signal that closed the window, or None.
    """

    def __init__(self, app: QCoreApplication, window: QWidget) -> None:
        self.app = app
        self.window = window
        self.received: int | None = None
        self._previous: dict[int, object] = {}
        self._old_fd = -1
        self._sockets: tuple[socket.socket, socket.socket] | None = None
        self._notifier: QSocketNotifier | None = None

    def __enter__(self) -> QuitOnSignals:
        read, write = socket.socketpair()
        for s in (read, write):
            s.setblocking(False)
        self._sockets = (read, write)
        self._old_fd = signal.set_wakeup_fd(write.fileno())
        # The byte the C-level handler writes wakes Qt; draining it hands Python the turn,
        # and Python then runs the handler below.
        self._notifier = QSocketNotifier(read.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        for sig in QUIT_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
        for s in self._sockets or ():
            s.close()

    def _drain(self) -> None:
        if self._sockets is not None:
            with contextlib.suppress(OSError):
                self._sockets[0].recv(64)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.received is not None:
            return  # already closing; a second Ctrl-C must not cut the save short
        self.received = signum
        # Close from the event loop, not inside the handler (it may interrupt a paint).
        QTimer.singleShot(0, self._close)

    def _close(self) -> None:
        self.window.close()  # closeEvent saves the open image and waits for the writes
        self.app.quit()


def run_window(project: str | Path | None, *, read_only: bool = False) -> int:
    """Open ``project`` in a new window and run the event loop until it closes.

    Returns
    -------
    int
        The event loop's exit code, or 128 + the signal number when SIGINT or SIGTERM
        closed the window (after saving).
    """
    from .main_window import MainWindow

    app = application()
    window = MainWindow()
    if project is not None:
        window.open_project(project, read_only=read_only)
    window.show_fitted()
    with QuitOnSignals(app, window) as guard:
        code = app.exec()
    if guard.received is not None:
        name = signal.Signals(guard.received).name
        print(f"skintrace: {name} received: work saved, window closed", file=sys.stderr)
        return 128 + guard.received
    return code


__all__ = ["QUIT_SIGNALS", "QuitOnSignals", "application", "run_window"]
