"""Opening and creating team projects: the same :class:`~core.project.Project` on PostgreSQL.

``Project.open("postgresql://...")`` and ``Project.create("postgresql://...")`` come here.
The project's folder (``Project.root``) is this machine's image root for it
(:mod:`core.project.pg.roots`): image paths, checkpoints and exports are relative to it;
rough masks, pre-labels and kept annotations are ``bytea`` rows
(:class:`~core.project.pg.blobs.DbStore`). There is no writer lock: several
workstations write at once (claims and mask revisions keep them apart).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import ProjectError
from core.project.pg.blobs import DbStore
from core.project.pg.database import PostgresDatabase
from core.project.pg.roots import image_root, set_image_root

if TYPE_CHECKING:
    from core.gt.engine import GTParams
    from core.project.catalog import Catalog

_C = TypeVar("_C", bound="Catalog")

PROJECT_ID = "project_id"


def _root(db: PostgresDatabase, root: str | os.PathLike[str] | None) -> Path:
    """The image root: given (and remembered for next time), else this machine's."""
    with db.read() as tx:
        project_id = tx.scalar("SELECT value FROM meta WHERE key = ?", (PROJECT_ID,))
    if not project_id:
        raise ProjectError(f"team project {db.describe} holds no project; create or push one")
    if root is not None:
        return set_image_root(str(project_id), root)
    found = image_root(str(project_id))
    if found is None:
        raise ProjectError(
            f"this machine has no image root for team project {db.describe}; run "
            "`skintrace team root URL FOLDER` with the folder where the share is mounted"
        )
    return found


def open_team(
    cls: type[_C],
    conninfo: str,
    *,
    read_only: bool = False,
    user: str | None = None,
    root: str | os.PathLike[str] | None = None,
) -> _C:
    """Open the team project at ``conninfo``; see :meth:`Project.open`.

    ``user`` defaults to the PostgreSQL role (what the history records); ``root`` to
    this machine's remembered image root.
    """
    db = PostgresDatabase(conninfo, read_only=read_only)
    try:
        base = _root(db, root)
        project = cls(base, db, user=user or db.user, stores=lambda name: DbStore(db, name))
    except BaseException:
        db.close()
        raise
    try:
        project._recover()
    except BaseException:
        project.close()
        raise
    return project


def create_team(
    cls: type[_C],
    conninfo: str,
    *,
    root: str | os.PathLike[str],
    name: str | None = None,
    params: GTParams | None = None,
    user: str | None = None,
) -> _C:
    """Make a new team project in the empty database ``conninfo``; see :meth:`Project.create`.

    ``root`` is the image root (the share) as this machine sees it; it is remembered.
    """
    from core.gt.engine import GTParams
    from core.project.catalog import project_meta

    db = PostgresDatabase(conninfo)
    try:
        with db.transaction() as tx:
            if tx.scalar("SELECT count(*) FROM meta"):
                raise ProjectError(f"team project {db.describe} already holds a project")
            label = name or str(tx.scalar("SELECT current_database()"))
            meta: dict[str, Any] = project_meta(label, params or GTParams(), user=user or db.user)
            meta[PROJECT_ID] = str(uuid.uuid4())
            tx.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", list(meta.items()))
        set_image_root(meta[PROJECT_ID], root)
    finally:
        db.close()
    return open_team(cls, conninfo, user=user, root=root)
