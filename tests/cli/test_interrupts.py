"""Ctrl-C anywhere in the command line is one line and exit status 130.

SIGINT is injected with strace at chosen ``openat`` calls of a real ``skintrace``
process: from the first file of SkinTrace's own code (``app/launch.py``) through the
module imports, the command and the interpreter's shutdown. (Before that file the
interpreter is still starting up, which is Python's, not SkinTrace's.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _command(tmp_path: Path) -> list[str]:
    launcher = Path(sys.executable).with_name("skintrace")
    if launcher.exists():
        return [str(launcher), "status", str(tmp_path / "none")]
    return [sys.executable, "-m", "app", "status", str(tmp_path / "none")]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_ctrl_c_at_any_point_is_one_line_and_exit_130(tmp_path):
    cmd = _command(tmp_path)
    log = tmp_path / "openat.log"
    trace = ["strace", "-qq", "-e", "trace=openat", "-o", str(log), *cmd]
    proc = subprocess.run(trace, capture_output=True, text=True, env=_env(), timeout=120)
    if proc.returncode != 1 or not log.exists():
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()[:200]}")
    calls = [line for line in log.read_text().splitlines() if "openat(" in line]
    first = next(i for i, line in enumerate(calls) if "app/launch.py" in line) + 1
    assert len(calls) - first > 20, "too few imports to sample"
    # Six points from SkinTrace's first file to the last call of the process.
    points = sorted({first + 1 + (len(calls) - first - 1) * k // 5 for k in range(6)})
    for when in points:
        inject = ["strace", "-qq", "-o", os.devnull, "-e", f"inject=openat:signal=INT:when={when}"]
        proc = subprocess.run(
            [*inject, *cmd], capture_output=True, text=True, env=_env(), timeout=120
        )
        where = f"SIGINT at openat #{when} of {len(calls)}"
        assert proc.returncode == 130, f"{where}: exit {proc.returncode}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, f"{where}:\n{proc.stderr}"
        lines = proc.stderr.splitlines()
        assert len(lines) <= 2 and all(line.startswith("skintrace: ") for line in lines), where


def test_a_closed_pipe_stops_quietly(tmp_path):
    """`skintrace history P | head`: the reader leaves first; no error line, exit 141."""
    from core.demo.projects import ensure_demo_project

    folder = ensure_demo_project(tmp_path / "demo")
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "app", "history", str(folder)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=120,
        )
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""
