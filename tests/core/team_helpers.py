"""Fixtures for team tests: a small project on each backend, and acting as another user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.imageio import encode_png
from core.project import Project

BACKENDS = ["sqlite"]


def write_images(folder: Path, n: int = 6, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = folder / ("a" if i < n // 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        (sub / f"face{i}.png").write_bytes(encode_png(pixels))
    return folder


def make_project(backend: str, request: Any, tmp_path: Path, *, n: int = 6) -> Project:
    """A project with ``n`` 16×16 images in folders ``a/`` and ``b/``, opened as admin."""
    src = write_images(tmp_path / "src", n)
    p = Project.create(tmp_path / "proj", user="admin")
    for _ in p.import_images(src):
        pass
    return p


@contextlib.contextmanager
def open_as(project: Project, user: str) -> Iterator[Project]:
    """``project`` as ``user``: a one-writer SQLite project records that name meanwhile."""
    before = project.user
    project.user = user
    try:
        yield project
    finally:
        project.user = before
