"""Moving a project between a folder (SQLite) and a team catalog (PostgreSQL), losslessly.

``push`` uploads a local project into a new, empty team database; ``pull`` makes a local
copy of a team project. Every catalog row travels with its id (images, statuses, history,
comments, parameters, settings, models and their log, pre-label state, claims and
assignments), and so does every PNG blob (rough masks, exclusions, annotator masks,
pre-labels): files under ``masks/``, ``prelabels/`` and ``annotators/`` locally, rows of
``blobs`` in PostgreSQL, each checked against the catalog's sha256 on the way.

Image files stay files. Paths relative to the project (images copied into it, checkpoints
under ``models/``) are relative to the team project's image root, the share each machine
mounts where it likes (:mod:`core.project.pg.roots`): a push copies those files to the
root when it is not the project folder, and a pull copies the images the project owns
into the new folder and points everything else at this machine's root. Absolute paths
(images linked in place elsewhere) are kept as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ProjectError
from core.project.masks import FileStore, sha256_bytes
from core.project.pg.blobs import DbStore
from core.project.pg.database import PostgresDatabase
from core.project.pg.roots import image_root, set_image_root
from core.project.pg.team import PROJECT_ID

#: Catalog tables in an order that satisfies their foreign keys.
TABLES = (
    "meta",
    "images",
    "masks",
    "history",
    "prelabels",
    "models",
    "settings",
    "annotator_masks",
    "exclusions",
    "prelabel_state",
    "model_log",
    "claims",
    "assignments",
)
#: Tables with an identity id whose sequence must follow the copied ids.
_IDENTITIES = ("images", "history", "models", "model_log")
#: Where the PNG blobs are listed: (table, store, SQL for the blob name, sha256 column).
BLOB_SOURCES = (
    ("masks", "masks", "class"),
    ("exclusions", "masks", "'exclude'"),
    ("prelabels", "prelabels", "class"),
    ("annotator_masks", "annotators", "file"),
)
#: Column names that differ: a schema-3 SQLite catalog's ``user`` is ``user_name``.
_RENAMED = {"user": "user_name"}


@dataclass(frozen=True)
class TransferResult:
    """What a push or pull moved."""

    project_id: str
    rows: dict[str, int]
    blobs: int
    files_copied: int
    image_root: Path | None
    #: Image files not found under the root on a pull (the copy lists them as missing).
    missing: int = 0


# ---------------------------------------------------------------------- column mapping


def _sqlite_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _pg_columns(db: PostgresDatabase, table: str) -> list[str]:
    with db.read() as tx:
        rows = tx.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    return [name for (name,) in rows]


def _pairs(local: Sequence[str], team: Sequence[str]) -> list[tuple[str, str]]:
    """``(local column, team column)`` for every column both sides have."""
    team_set = set(team)
    return [(c, _RENAMED.get(c, c)) for c in local if _RENAMED.get(c, c) in team_set]


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# ---------------------------------------------------------------------- push


def push(
    folder: str | os.PathLike[str],
    conninfo: str,
    *,
    root: str | os.PathLike[str] | None = None,
) -> TransferResult:
    """Upload the project in ``folder`` into the empty team database ``conninfo``.

    Parameters
    ----------
    folder
        A local project; it is opened for writing (upgraded, locked) during the push.
    conninfo
        A libpq connection string or URL of an empty database (or one with only a
        SkinTrace schema and no project yet); the account must own it.
    root
        The team project's image root as this machine sees it (the share). Defaults to
        the project folder. Files the project holds under relative paths are copied
        there when it is elsewhere. Remembered as this machine's root for the project.
    """
    from core.project.catalog import CATALOG, Project

    with Project.open(folder) as project:  # upgrade + writer lock while we read
        local_root = Path(project.root)
        conn = sqlite3.connect(f"{(local_root / CATALOG).as_uri()}?mode=ro", uri=True)
    try:
        target = Path(root).expanduser().absolute() if root is not None else local_root
        db = PostgresDatabase(conninfo)
        try:
            return _push(conn, local_root, db, target)
        finally:
            db.close()
    finally:
        conn.close()


def _push(
    conn: sqlite3.Connection, local_root: Path, db: PostgresDatabase, target: Path
) -> TransferResult:
    with db.read() as tx:
        if tx.scalar("SELECT count(*) FROM meta"):
            raise ProjectError(
                f"team project {db.describe} already holds a project; push into a new database"
            )
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    project_id = meta.get(PROJECT_ID) or str(uuid.uuid4())
    files = _relative_files(conn)
    copied = _copy_files(files, local_root, target) if target != local_root else 0
    counts: dict[str, int] = {}
    blobs = 0
    local_tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    with db.transaction() as tx:
        for table in TABLES:
            if table not in local_tables:
                continue
            pairs = _pairs(_sqlite_columns(conn, table), _pg_columns(db, table))
            rows = conn.execute(f"SELECT {_quoted(a for a, _ in pairs)} FROM {table}").fetchall()
            if table == "meta":
                rows = [r for r in rows if r[0] != PROJECT_ID] + [(PROJECT_ID, project_id)]
            elif table == "images":
                rows = _under_root(rows, [a for a, _ in pairs], target)
            marks = ", ".join("?" * len(pairs))
            tx.executemany(
                f"INSERT INTO {table} ({_quoted(b for _, b in pairs)}) VALUES ({marks})", rows
            )
            counts[table] = len(rows)
        for table in _IDENTITIES:
            tx.scalar(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE(max(id), 1), max(id) IS NOT NULL) FROM {table}"
            )
        for table, store, name_sql in BLOB_SOURCES:
            if table not in local_tables:
                continue
            files_store, team_store = FileStore(local_root, store), DbStore(db, store)
            for image_id, name, sha in conn.execute(
                f"SELECT image_id, {name_sql}, sha256 FROM {table} ORDER BY image_id"
            ):
                data = files_store.read(image_id, name, sha)  # checked against the catalog
                team_store.write(tx, image_id, name, data)
                blobs += 1
    set_image_root(project_id, target)
    return TransferResult(project_id, counts, blobs, copied, target)


def _under_root(rows: list[tuple], columns: list[str], target: Path) -> list[tuple]:
    """Images linked in place under the image root are stored relative to it, so every
    workstation finds them under its own mount of the share."""
    path_at = columns.index("path")
    out = []
    for row in rows:
        values = list(row)
        path = Path(str(values[path_at]))
        if path.is_absolute() and path.is_relative_to(target):
            values[path_at] = path.relative_to(target).as_posix()
        out.append(tuple(values))
    return out


def _relative_files(conn: sqlite3.Connection) -> list[str]:
    """Relative paths the catalog names: images copied into the project, checkpoints."""
    paths = [p for (p,) in conn.execute("SELECT path FROM images")]
    paths += [p for (p,) in conn.execute("SELECT path FROM models")]
    return [p for p in paths if not Path(p).is_absolute()]


def _copy_files(relative: Iterable[str], source: Path, target: Path) -> int:
    """Copy files or folders under ``source`` to the same relative place under ``target``.

    A file already there with the same bytes is left alone; different bytes are refused.
    """
    count = 0
    for rel in relative:
        src, dst = source / rel, target / rel
        if not src.exists():
            continue  # a missing image stays missing; the catalog still lists it
        if src.is_dir():
            if not dst.exists():
                shutil.copytree(src, dst)
                count += 1
            continue
        if dst.exists():
            if sha256_bytes(dst.read_bytes()) != sha256_bytes(src.read_bytes()):
                raise ProjectError(f"{dst} exists with other content; choose another root")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        count += 1
    return count


# ---------------------------------------------------------------------- pull


def pull(
    conninfo: str,
    folder: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
) -> TransferResult:
    """Make a local project in ``folder`` (new or empty) from the team project ``conninfo``.

    Parameters
    ----------
    conninfo
        The team project's connection string (read-only access is enough).
    folder
        Where the local project is made; it appears complete or not at all.
    root
        This machine's image root for the team project; defaults to the remembered one.
        Images the project owns are copied from it; other relative paths point into it.
    """
    from core.project.catalog import CATALOG, Project

    dest = Path(folder).expanduser().absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ProjectError(f"{dest} is not empty; pull into a new folder")
    db = PostgresDatabase(conninfo, read_only=True)
    try:
        with db.read() as tx:
            meta = dict(tx.query("SELECT key, value FROM meta"))
        if not meta:
            raise ProjectError(f"team project {db.describe} holds no project yet")
        project_id = meta.get(PROJECT_ID, "")
        base = Path(root).expanduser().absolute() if root is not None else image_root(project_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.pulling")
        shutil.rmtree(tmp, ignore_errors=True)
        Project.create(tmp, name=meta.get("name")).close()
        try:
            result = _pull_into(db, tmp, tmp / CATALOG, base, project_id)
            if dest.exists():
                dest.rmdir()
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        db.close()
    Project.open(dest).close()  # the copy opens like any project
    return result


def _pull_into(
    db: PostgresDatabase, local_root: Path, catalog: Path, base: Path | None, project_id: str
) -> TransferResult:
    counts: dict[str, int] = {}
    copied = blobs = missing = 0
    conn = sqlite3.connect(catalog, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM meta")
        local_tables = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        with db.read() as tx:
            for table in TABLES:
                if table not in local_tables:
                    continue
                pairs = _pairs(_sqlite_columns(conn, table), _pg_columns(db, table))
                rows = tx.query(f"SELECT {_quoted(b for _, b in pairs)} FROM {table}")
                if table == "images":
                    rows, n, lost = _localize_images(rows, [a for a, _ in pairs], local_root, base)
                    copied, missing = copied + n, missing + lost
                elif table == "models":
                    rows = _localize_models(rows, [a for a, _ in pairs], base)
                marks = ", ".join("?" * len(pairs))
                conn.executemany(
                    f"INSERT INTO {table} ({_quoted(a for a, _ in pairs)}) VALUES ({marks})",
                    rows,
                )
                counts[table] = len(rows)
            for store in ("masks", "prelabels", "annotators"):
                files = FileStore(local_root, store)
                for image_id, name, sha, data in tx.query(
                    "SELECT image_id, name, sha256, data FROM blobs WHERE store = ?", (store,)
                ):
                    data = bytes(data)
                    if sha256_bytes(data) != sha:
                        raise ProjectError(
                            f"{files.relpath(image_id, name)} is damaged in {db.describe}"
                        )
                    path = files.path(image_id, name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                    blobs += 1
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    return TransferResult(project_id, counts, blobs, copied, base, missing)


def _need_root(base: Path | None, rel: str) -> Path:
    if base is None:
        raise ProjectError(
            f"this machine has no image root for the team project (needed for {rel}); "
            "give one with --root"
        )
    return base


def _localize_images(
    rows: list[tuple], columns: list[str], local_root: Path, base: Path | None
) -> tuple[list[tuple], int, int]:
    """Copy the images the project owns into the new folder; point the rest into the root.

    Returns the rows, the number of files copied and the number not found.
    """
    path_at, copied_at = columns.index("path"), columns.index("copied")
    out: list[tuple[Any, ...]] = []
    count = missing = 0
    for row in rows:
        values = list(row)
        rel = str(values[path_at])
        src = Path(rel)
        if not src.is_absolute():
            src = _need_root(base, rel) / rel
            if values[copied_at] and src.is_file():
                (local_root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, local_root / rel)
                count += 1
            elif not values[copied_at]:
                values[path_at] = str(src)
        missing += not src.is_file()
        out.append(tuple(values))
    return out, count, missing


def _localize_models(rows: list[tuple], columns: list[str], base: Path | None) -> list[tuple]:
    path_at = columns.index("path")
    out = []
    for row in rows:
        values = list(row)
        rel = str(values[path_at])
        if not Path(rel).is_absolute():
            values[path_at] = str(_need_root(base, rel) / rel)
        out.append(tuple(values))
    return out
