"""A project opens read-only wherever it lives: a read-only mount, a folder without write
permission. Both are reproduced for real (a bind mount in a private mount namespace, a
process running as ``nobody``); each test skips when the machine does not allow it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.imageio import encode_png
from core.project import Project

REPO = Path(__file__).resolve().parents[2]

#: Run inside the restricted process: read-only open works, writable open says why.
_CHECK = textwrap.dedent(
    """
    import sys
    from core.errors import ProjectNotWritableError
    from core.project import Project
    root = sys.argv[1]
    with Project.open(root, read_only=True) as p:
        print("images", len(p.images()), p.images()[0].name)
        print("rough", int(p.load_rough(p.images()[0].id)["wrinkle"].sum()))
    try:
        Project.open(root)
    except ProjectNotWritableError as exc:
        print("writable:", exc)
    """
)


@pytest.fixture
def shared_project() -> Iterator[Path]:
    """A project with one image and a painted mask, in a folder other users can enter."""
    base = Path(tempfile.mkdtemp(prefix="skintrace-ro-", dir="/tmp"))
    os.chmod(base, 0o755)
    root = base / "proj"
    rng = np.random.default_rng(0)
    src = base / "src"
    src.mkdir()
    (src / "face.png").write_bytes(encode_png(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)))
    with Project.create(root, user="u") as p:
        for _ in p.import_images(src, copy=True):
            pass
        rec = p.images()[0]
        mask = np.zeros((16, 16), bool)
        mask[2:5, 2:7] = True
        p.save_rough(rec.id, {"wrinkle": mask})
    try:
        yield root
    finally:
        for dirpath, _dirs, _files in os.walk(base):
            os.chmod(dirpath, 0o755)
        shutil.rmtree(base, ignore_errors=True)


def _expect_read_only_works(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "images 1 face.png"
    assert lines[1] == "rough 15"
    assert lines[2].startswith("writable: ") and "cannot be opened for writing" in lines[2]
    assert "open it read-only?" in lines[2]


def test_a_project_on_a_read_only_mount_opens_read_only(shared_project):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to make a read-only bind mount")
    mnt = shared_project.parent / "mnt"
    mnt.mkdir()
    script = (
        f"mount --bind -o ro {shared_project} {mnt} || exit 77; "
        f"exec {sys.executable} -c '{_CHECK}' {mnt}"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env
    )
    if proc.returncode == 77 or "unshare failed" in proc.stderr:
        pytest.skip(f"cannot make a read-only mount here: {proc.stderr.strip()[:200]}")
    _expect_read_only_works(proc)
    # And through the command line, in the same kind of mount.
    script = (
        f"mount --bind -o ro {shared_project} {mnt} || exit 77; "
        f"exec {sys.executable} -c 'from app.cli import main; raise SystemExit(main())' "
        f"status {mnt}"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0 and "1 image(s)" in proc.stdout, proc.stderr


def test_a_project_without_write_permission_opens_read_only(shared_project):
    for dirpath, _dirs, _files in os.walk(shared_project):
        os.chmod(dirpath, 0o555)  # readable by all, writable by nobody but root
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", _CHECK, str(shared_project)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop write permission")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if "Permission denied" in proc.stderr and "python" in proc.stderr.lower():
        pytest.skip(f"the test interpreter is not readable by nobody: {proc.stderr[:200]}")
    _expect_read_only_works(proc)
