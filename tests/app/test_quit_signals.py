"""SIGINT/SIGTERM from a terminal close the window after saving, and quit cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from app.gui.app import QuitOnSignals
from core.project import Project

from .helpers import drag, make_project, open_window

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_the_open_image_and_closes_the_window(qtbot, project_dir, sig):
    window = open_window(qtbot, project_dir, ahead=False)
    image_id = window.session.current.image_id
    window.canvas.set_zoom(4.0)
    window.canvas.centerOn(64, 48)
    window.tools.set_radius(2)
    drag(window.canvas, [(30, 50), (30, 70)])
    painted = window.canvas.document.rough("wrinkle").copy()
    assert painted.any()
    with QuitOnSignals(QApplication.instance(), window) as guard:
        os.kill(os.getpid(), sig)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    assert guard.received == sig
    assert window.session is None  # the session was closed, its writes finished
    with Project.open(project_dir, read_only=True) as p:
        np.testing.assert_array_equal(p.load_rough(image_id)["wrinkle"], painted)
    # the previous handlers are back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _catches_sigterm(pid: int) -> bool:
    """True once the process installed its SIGTERM handler (QuitOnSignals is active)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:"))[7:], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_ctrl_c_in_the_terminal_quits_the_running_window(tmp_path):
    root = make_project(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}
    env["SKINTRACE_DATA_DIR"] = str(tmp_path / "userdata")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", str(root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _catches_sigterm(proc.pid):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the window did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    # (the offscreen Qt plugin may print its own notices before)
    assert err.splitlines()[-1] == "skintrace: SIGINT received: work saved, window closed", err
    # The writer lock was released: the project opens for writing again.
    Project.open(root).close()
