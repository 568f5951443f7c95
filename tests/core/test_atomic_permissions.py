"""Files and folders written atomically get the permissions a plain write would give.

``mkstemp``/``mkdtemp`` create 0600 files and 0700 folders; without care every dataset,
checkpoint and project written by SkinTrace would be private to the person who wrote it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.atomic import atomic_write_bytes, atomic_write_text
from core.dataset import DatasetEntry, write_dataset
from core.gt.engine import GTParams
from core.project import Project


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_follows_umask(tmp_path: Path, umask_022: None) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    atomic_write_text(tmp_path / "b.txt", "x")
    assert _mode(tmp_path / "a.bin") == 0o644
    assert _mode(tmp_path / "b.txt") == 0o644


def test_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert _mode(target) == 0o640


def test_dataset_folder_and_files_are_shareable(tmp_path: Path, umask_022: None) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    rough = {"wrinkle": rng.random((24, 32)) > 0.5, "pore": rng.random((24, 32)) > 0.5}
    entry = DatasetEntry("img0", image, rough, "accepted", "h0")
    out = tmp_path / "ds"
    for _ in write_dataset(out, [entry], params=GTParams()):
        pass
    assert _mode(out) == 0o755
    assert _mode(out / "manifest.json") == 0o644
    assert _mode(out / "images" / "img0.png") == 0o644


def test_new_project_catalog_is_shareable(tmp_path: Path, umask_022: None) -> None:
    with Project.create(tmp_path / "p") as p:
        catalog = p.root / "catalog.sqlite"
    assert _mode(catalog) == 0o644
