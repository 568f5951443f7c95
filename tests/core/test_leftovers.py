"""core.leftovers: only dead writers' temps go; swaps are settled; full-disk opens say so."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from core.atomic import atomic_write_bytes, previous_folder
from core.errors import DiskFullError, ProjectError
from core.leftovers import clean_folder, replace_folder_leftovers, temp_owner
from core.project import Project
from core.project import schema as schema_mod


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temp_names_carry_the_writer_pid(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"x")  # leaves nothing, but check the naming
    assert temp_owner(f".a.bin.{os.getpid()}-k3j2_x9.tmp") == (True, os.getpid())
    assert temp_owner("ds.partial-123-abcd") == (True, 123)
    assert temp_owner(".a.bin.abcdefgh.tmp") == (True, None)
    assert temp_owner("face.png") == (False, None)
    assert temp_owner("notes.tmp") == (False, None)


def test_clean_folder_removes_only_dead_writers_temps(tmp_path):
    dead = _dead_pid()
    mine = os.getpid()
    (tmp_path / f".a.png.{dead}-xyz.tmp").write_bytes(b"12345")
    (tmp_path / f"ds.partial-{dead}-q1").mkdir()
    (tmp_path / f"ds.partial-{dead}-q1" / "x").write_bytes(b"123")
    (tmp_path / f".b.png.{mine}-xyz.tmp").write_bytes(b"live")
    (tmp_path / f"ds.partial-{mine}-q2").mkdir()
    (tmp_path / ".c.png.abcdefgh.tmp").write_bytes(b"old")
    (tmp_path / "keep.png").write_bytes(b"user file")
    dry = clean_folder(tmp_path, dry_run=True)
    assert len(dry.removed) == 2 and dry.bytes_freed == 8
    assert (tmp_path / f".a.png.{dead}-xyz.tmp").exists()  # a dry run changes nothing
    done = clean_folder(tmp_path)
    assert done.removed == dry.removed and done.bytes_freed == 8
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [f".b.png.{mine}-xyz.tmp", f"ds.partial-{mine}-q2", ".c.png.abcdefgh.tmp", "keep.png"]
    )
    clean_folder(tmp_path, unowned=True)  # only under the project's writer lock
    assert not (tmp_path / ".c.png.abcdefgh.tmp").exists()
    assert (tmp_path / "keep.png").exists()


def test_previous_folders_are_settled_only_where_skintrace_owns_the_folder(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / ".config.previous").mkdir()  # a user's own folder of that name
    assert not clean_folder(tmp_path)
    assert (tmp_path / ".config.previous").is_dir()
    assert clean_folder(tmp_path, swaps=True).removed == (str(tmp_path / ".config.previous"),)


def test_interrupted_folder_swap_is_settled(tmp_path):
    target = tmp_path / "best"
    prev = previous_folder(target)
    prev.mkdir()
    (prev / "config.json").write_text("old")
    # Killed between the two renames: the old complete folder is put back.
    assert replace_folder_leftovers(target).restored == (str(target),)
    assert (target / "config.json").read_text() == "old" and not prev.exists()
    # Killed after both: the old copy is removed.
    prev.mkdir()
    (prev / "w").write_bytes(b"0" * 10)
    result = replace_folder_leftovers(target)
    assert result.removed == (str(prev),) and result.bytes_freed == 10 and not prev.exists()


Usage = namedtuple("Usage", "total used free")


def _ioerror() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = 4874  # SQLITE_IOERR_SHMSIZE: what a full disk gives at open
    return exc


@pytest.mark.parametrize("free", [0, 10**9])
def test_io_error_on_a_full_disk_is_called_disk_full(tmp_path, monkeypatch, free):
    monkeypatch.setattr(schema_mod.shutil, "disk_usage", lambda _p: Usage(10**9, 0, free))
    err = schema_mod.sql_error(tmp_path / "catalog.sqlite", _ioerror())
    text = str(err)
    if free:
        assert isinstance(err, ProjectError) and "disk I/O error" in text
    else:
        assert isinstance(err, DiskFullError) and err.errno == errno.ENOSPC
        assert text.startswith("disk full: cannot use the catalog") and "I/O" not in text
        assert "free some space" in text and text.count("free some space") == 1


@contextlib.contextmanager
def _tiny_disk(folder: Path):
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("a real full disk needs permission to mount a small tmpfs")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() != 0, reason="mounts a tmpfs")
def test_opening_a_project_on_a_really_full_disk_says_disk_full(tmp_path):
    with _tiny_disk(tmp_path / "disk") as disk:
        Project.create(disk / "p").close()
        with open(disk / "filler", "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        for read_only in (False, True):
            with pytest.raises(DiskFullError) as info:
                Project.open(disk / "p", read_only=read_only)
            assert "I/O error" not in str(info.value)
            assert str(info.value).startswith(f"disk full: cannot use the catalog {disk / 'p'}")
        (disk / "filler").unlink()
        Project.open(disk / "p").close()  # room again: it opens


def test_checkpoint_save_on_full_disk_names_the_checkpoint_once(tmp_path, monkeypatch):
    from core.model.checkpoint import save_checkpoint
    from core.model.registry import create_model

    net = create_model("unet", width=2)
    target = save_checkpoint(tmp_path / "best", net, name="unet", config={"width": 2})
    before = (target / "model.safetensors").read_bytes()
    real = os.fdopen

    class Full:
        def __init__(self, fh) -> None:
            self.fh = fh

        def write(self, data) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

    monkeypatch.setattr(os, "fdopen", lambda *a, **k: Full(real(*a, **k)))
    for folder, kept in ((target, "already there is unchanged"), (tmp_path / "new", "none was")):
        with pytest.raises(DiskFullError) as info:
            save_checkpoint(folder, net, name="unet", config={"width": 2})
        text = str(info.value)
        assert text.startswith(f"disk full: cannot write the checkpoint to {folder} (")
        assert kept in text and text.count("free some space") == 1 and "\n" not in text
    monkeypatch.undo()
    assert (target / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]
