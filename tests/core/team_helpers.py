"""Fixtures for team tests: a small project on each backend, and acting as another user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from core.imageio import encode_png
from core.project import Project

BACKENDS = ["sqlite", "pg"]


def write_images(folder: Path, n: int = 6, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = folder / ("a" if i < n // 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        (sub / f"face{i}.png").write_bytes(encode_png(pixels))
    return folder


def make_project(backend: str, request: Any, tmp_path: Path, *, n: int = 6) -> Project:
    """A project with ``n`` 16×16 images in folders ``a/`` and ``b/``, opened as admin:
    a folder (``"sqlite"``) or a team project on the test PostgreSQL server (``"pg"``)."""
    if backend == "pg":
        return make_pg_project(request.getfixturevalue("pg_url"), tmp_path, n=n)
    src = write_images(tmp_path / "src", n)
    p = Project.create(tmp_path / "proj", user="admin")
    for _ in p.import_images(src):
        pass
    return p


def make_pg_project(url: str, tmp_path: Path, *, n: int = 6, user: str = "admin") -> Project:
    """A team project at ``url`` made the way a lab does: a folder project pushed."""
    from core.project.transfer import push

    make_project("sqlite", None, tmp_path, n=n).close()
    push(tmp_path / "proj", url)
    project = open_team(url, user=user, root=tmp_path / "proj")
    project.test_url = url  # type: ignore[attr-defined]  # open_as reopens it
    return project


def open_team(url: str, *, user: str, root: Path, read_only: bool = False) -> Project:
    """The team project at ``url`` as ``user`` (the PostgreSQL role's name in the history
    otherwise), its images under ``root``."""
    project = Project.open(url, user=user, root=root, read_only=read_only)
    project.test_url = url  # type: ignore[attr-defined]
    return project


@contextlib.contextmanager
def open_as(project: Project, user: str) -> Iterator[Project]:
    """``project`` as ``user``: a second connection on a team project; a one-writer SQLite
    project records that name meanwhile."""
    if getattr(project.db, "dialect", "") == "postgresql":
        url, root = project.test_url, project.root  # type: ignore[attr-defined]
        with open_team(url, user=user, root=root) as other:
            yield other
        return
    before = project.user
    project.user = user
    try:
        yield project
    finally:
        project.user = before
