"""replace_folder under failure: an error or a kill at every rename and fsync of the swap.

Whatever step fails, a complete version (old or new) is at the target, or the old one
at ``previous_folder`` for :func:`restore_folder` to put back; after ``restore_folder``
the target is complete and nothing of the swap is left but the caller's temp folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import core.atomic as atomic
from core.atomic import previous_folder, replace_folder, restore_folder

PATHS = ("exchange", "fallback")


class _Injected(Exception):
    """The failure injected at one step of the swap."""


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    for i in range(3):
        (path / f"f{i}.txt").write_text(text)
    return path


def _version(folder: Path) -> str | None:
    """'old' or 'new' if ``folder`` holds one version completely, else None."""
    if not folder.is_dir():
        return None
    texts = {p.read_text() for p in folder.iterdir()}
    if len(texts) == 1 and len(list(folder.iterdir())) == 3:
        return texts.pop()
    return None


@pytest.fixture(params=PATHS)
def swap_path(request, monkeypatch):
    """Run each test once with RENAME_EXCHANGE and once with the two-rename fallback."""
    if request.param == "exchange":
        if atomic._renameat2 is None:
            pytest.skip("renameat2 is not available on this platform")
    else:
        monkeypatch.setattr(atomic, "_renameat2", None)
    return request.param


def _steps(monkeypatch, fail_at: int | None) -> list[str]:
    """Count every rename, exchange and fsync of the swap; raise at step ``fail_at``."""
    calls: list[str] = []
    for name in ("_rename", "_exchange", "_fsync_dir"):
        real = getattr(atomic, name)

        def step(*args, _real=real, _name=name):
            calls.append(_name)
            if fail_at is not None and len(calls) == fail_at:
                raise _Injected(f"injected at {_name}")
            return _real(*args)

        monkeypatch.setattr(atomic, name, step)
    return calls


def test_the_swap_leaves_only_the_new_folder(tmp_path, swap_path, monkeypatch):
    target = _folder(tmp_path / "out", "old")
    calls = _steps(monkeypatch, None)
    replace_folder(_folder(tmp_path / "new", "new"), target)
    assert _version(target) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    # one atomic exchange plus the rename of the old folder, or the two-rename fallback
    assert calls.count("_rename") == (1 if swap_path == "exchange" else 2)


def _count_steps(tmp_path: Path, monkeypatch) -> int:
    probe = tmp_path / "probe"
    probe.mkdir()
    target = _folder(probe / "out", "old")
    with monkeypatch.context() as m:
        calls = _steps(m, None)
        replace_folder(_folder(probe / "new", "new"), target)
    shutil.rmtree(probe)
    return len(calls)


def test_a_failure_at_every_step_loses_nothing(tmp_path, swap_path, monkeypatch):
    n_steps = _count_steps(tmp_path, monkeypatch)
    assert n_steps >= 4  # fsync(tmp), rename(s)/exchange, fsync(parent)
    for fail_at in range(1, n_steps + 1):
        root = tmp_path / f"at{fail_at}"
        root.mkdir()
        target = _folder(root / "out", "old")
        new = _folder(root / "new", "new")
        with monkeypatch.context() as m:
            _steps(m, fail_at)
            try:
                replace_folder(new, target)
            except _Injected:
                pass
        # Right after the failure: a complete version at the target.
        assert _version(target) in ("old", "new"), f"step {fail_at}"
        restore_folder(target)
        assert _version(target) in ("old", "new"), f"step {fail_at}"
        assert not previous_folder(target).exists()
        left = {p.name for p in root.iterdir()} - {"out"}
        # At most the caller's temp folder, holding the version not at the target.
        assert left <= {"new"}, f"step {fail_at}: {left}"
        if left:
            assert {_version(target), _version(root / "new")} == {"old", "new"}


def test_a_fallback_swap_killed_between_its_renames_is_restored(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_renameat2", None)
    target = _folder(tmp_path / "out", "old")
    os.rename(target, previous_folder(target))  # what the kill leaves: no target
    assert restore_folder(target) == "restored"
    assert _version(target) == "old"
    # the next replace_folder does the same on its own
    os.rename(target, previous_folder(target))
    replace_folder(_folder(tmp_path / "new", "new"), target)
    assert _version(target) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_restore_removes_a_leftover_old_folder_once_the_new_one_is_in_place(tmp_path):
    target = _folder(tmp_path / "out", "new")
    _folder(previous_folder(target), "old")
    assert restore_folder(target) == "removed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert restore_folder(target) is None


# ----------------------------------------------------------------------------- real kills

_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import core.atomic as atomic
    if sys.argv[2] == "fallback":
        atomic._renameat2 = None
    root = Path(sys.argv[1])
    atomic.replace_folder(root / "new", root / "out")
    """
)


#: Each system call of the swap, as (path, syscalls counted together, which call):
#: exchange = fsync(new) renameat2(EXCHANGE) fsync(parent) rename(new->.previous)
#: fsync(parent); fallback = fsync(new) rename(out->.previous) rename(new->out) fsync(parent).
_KILLS = [
    ("exchange", "fsync", 1),
    ("exchange", "renameat2", 1),
    ("exchange", "fsync", 2),
    ("exchange", "rename,renameat", 1),
    ("exchange", "fsync", 3),
    ("fallback", "fsync", 1),
    ("fallback", "rename,renameat", 1),
    ("fallback", "rename,renameat", 2),
    ("fallback", "fsync", 2),
]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize(("path", "syscalls", "when"), _KILLS)
def test_sigkill_at_each_rename_and_fsync_of_the_swap(tmp_path, path, syscalls, when):
    if path == "exchange" and atomic._renameat2 is None:
        pytest.skip("renameat2 is not available on this platform")
    target = _folder(tmp_path / "out", "old")
    _folder(tmp_path / "new", "new")
    repo = Path(__file__).resolve().parents[2]
    cmd = [
        "strace", "-f", "-qq", "-o", os.devnull,
        "-e", f"inject={syscalls}:signal=KILL:when={when}",
        sys.executable, "-c", _SCRIPT, str(tmp_path), path,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if "ptrace" in proc.stderr or "strace:" in proc.stderr:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()[:200]}")
    assert proc.returncode in (137, -9), f"not killed at {syscalls} #{when}: {proc.stderr}"
    # Killed: the user's folder is there, complete, or restorable.
    at_target = _version(target)
    if at_target is None:
        assert path == "fallback" and _version(previous_folder(target)) == "old"
    restore_folder(target)
    assert _version(target) in ("old", "new")
    assert not previous_folder(target).exists()
    if (tmp_path / "new").exists():
        assert {_version(target), _version(tmp_path / "new")} == {"old", "new"}
