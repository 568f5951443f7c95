"""pytest-qt fixtures: offscreen platform, settings redirected to a temp folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Redirect QSettings and the user data folder so tests never touch the real ones."""
    from PySide6.QtCore import QCoreApplication, QSettings

    monkeypatch.setenv("SKINTRACE_DATA_DIR", str(tmp_path / "userdata"))
    QCoreApplication.setOrganizationName("SkinTraceTests")
    QCoreApplication.setApplicationName("SkinTraceTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    # the first-run start hint would cover part of every canvas (test_window_state shows it)
    QSettings().setValue("hints/start_dismissed", True)
    yield


@pytest.fixture(autouse=True)
def _no_threads_left_running():
    """After each test, finish the background writes and jobs it started.

    A test that ends with a writer thread or pool job still running could otherwise be
    torn down under it ("QThread destroyed while running") in a later test.
    """
    yield
    from PySide6.QtCore import QThreadPool

    from app.gui.writer import SerialWriter

    SerialWriter.stop_all()
    QThreadPool.globalInstance().waitForDone(10_000)


@pytest.fixture
def project_dir(tmp_path):
    """A small project of synthetic faces (modules override it for other set-ups)."""
    from .helpers import make_project

    return make_project(tmp_path)


@pytest.fixture
def window(qtbot, project_dir):
    """The main window open on ``project_dir``, closed (autosave flushed) after the test."""
    from .helpers import open_window

    w = open_window(qtbot, project_dir)
    yield w
    w.close()
