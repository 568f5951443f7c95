"""The catalog's SQLite schema and its ordered migrations.

``PRAGMA user_version`` holds the schema version. Each migration runs in one
transaction together with the version bump, so a catalog is always at exactly one
version. A catalog newer than this SkinTrace is refused, never downgraded.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from core.errors import DiskFullError, ProjectError, SkinTraceError

_STATUSES = "'new','prelabeled','in_progress','submitted','accepted','rejected'"
_CLASSES = "'wrinkle','pore'"

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def _per_image(prefix: str) -> str:
    """SQL: settings rows ``<prefix><image id>`` of existing images, as (image_id, value)."""
    n = len(prefix)
    return (
        f"SELECT CAST(substr(key, {n + 1}) AS INTEGER) AS image_id, value_json FROM settings "
        f"WHERE substr(key, 1, {n}) = '{prefix}' AND substr(key, {n + 1}) <> '' "
        f"AND substr(key, {n + 1}) NOT GLOB '*[^0-9]*' AND json_valid(value_json) "
        f"AND CAST(substr(key, {n + 1}) AS INTEGER) IN (SELECT id FROM images)"
    )


def _j(fn: str, path: str = "'$'") -> str:
    """SQL: ``fn(value_json, path)``, NULL for a row that is not valid JSON."""
    return f"CASE WHEN json_valid(value_json) THEN {fn}(value_json, {path}) END"


# Schema 3 kept these in settings rows: active.uncertainty.<id> ({"value", "source"}),
# prelabel.rejected.<id> (source), model.current (model id), retrain.current_log (ids
# made current, oldest first). Rows that are not what they should be are dropped.
_SETTINGS_TO_TABLES = f"""
    INSERT INTO prelabel_state(image_id, source, uncertainty, updated_utc)
        SELECT image_id, {_j("json_extract", "'$.source'")},
               {_j("json_extract", "'$.value'")}, {_NOW}
        FROM ({_per_image("active.uncertainty.")})
        WHERE {_j("json_type", "'$.value'")} IN ('integer', 'real');
    INSERT INTO prelabel_state(image_id, rejected_source, updated_utc)
        SELECT image_id, {_j("json_extract")}, {_NOW}
        FROM ({_per_image("prelabel.rejected.")})
        WHERE {_j("json_type")} = 'text'
        ON CONFLICT(image_id) DO UPDATE SET rejected_source = excluded.rejected_source;
    INSERT INTO model_log(model_id, time_utc, kind)
        SELECT CASE WHEN j.type = 'null' THEN NULL ELSE j.value END, {_NOW},
               'made_current'
        FROM (SELECT CASE WHEN {_j("json_type")} = 'array' THEN value_json ELSE '[]' END
              AS log FROM settings WHERE key = 'retrain.current_log') AS s, json_each(s.log) AS j
        WHERE j.type = 'null' OR (j.type = 'integer' AND j.value IN (SELECT id FROM models))
        ORDER BY j.key;
    INSERT INTO model_log(model_id, time_utc, kind)
        SELECT {_j("json_extract")}, {_NOW}, 'current' FROM settings
        WHERE key = 'model.current' AND ({_j("json_type")} = 'null'
            OR ({_j("json_type")} = 'integer' AND {_j("json_extract")} IN (SELECT id FROM models)));
    DELETE FROM settings WHERE substr(key, 1, 19) = 'active.uncertainty.'
        OR substr(key, 1, 18) = 'prelabel.rejected.'
        OR key IN ('model.current', 'retrain.current_log');
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: images, rough masks, status history, project metadata.
    f"""
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE images (
        id           INTEGER PRIMARY KEY,
        name         TEXT NOT NULL,
        path         TEXT NOT NULL,
        copied       INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT NOT NULL UNIQUE,
        size_bytes   INTEGER NOT NULL,
        rows         INTEGER NOT NULL,
        cols         INTEGER NOT NULL,
        status       TEXT NOT NULL DEFAULT 'new' CHECK (status IN ({_STATUSES})),
        params_json  TEXT,
        added_utc    TEXT NOT NULL,
        updated_utc  TEXT NOT NULL
    );
    CREATE INDEX images_status ON images(status);
    CREATE TABLE masks (
        image_id  INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        class     TEXT NOT NULL CHECK (class IN ({_CLASSES})),
        sha256    TEXT NOT NULL,
        painted   INTEGER NOT NULL,
        revision  INTEGER NOT NULL,
        saved_utc TEXT NOT NULL,
        user      TEXT NOT NULL,
        PRIMARY KEY (image_id, class)
    );
    CREATE TABLE history (
        id          INTEGER PRIMARY KEY,
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        from_status TEXT,
        to_status   TEXT NOT NULL,
        user        TEXT NOT NULL,
        time_utc    TEXT NOT NULL,
        comment     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX history_image ON history(image_id);
    """,
    # 2: pre-labels, model checkpoints, key-value settings (model-assisted annotation).
    f"""
    CREATE TABLE prelabels (
        image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        class       TEXT NOT NULL CHECK (class IN ({_CLASSES})),
        sha256      TEXT NOT NULL,
        source      TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        PRIMARY KEY (image_id, class)
    );
    CREATE TABLE models (
        id           INTEGER PRIMARY KEY,
        path         TEXT NOT NULL,
        metrics_json TEXT NOT NULL,
        note         TEXT NOT NULL DEFAULT '',
        added_utc    TEXT NOT NULL
    );
    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value_json TEXT NOT NULL
    );
    """,
    # 3: several annotators per image: a previous annotator's masks are kept when another
    # one saves over them (annotators/<image_id>/<file>.png; core.project.annotators);
    # exclusion masks (hair, beard, glasses) removed from both classes' GT
    # (masks/<image_id>/exclude.png).
    f"""
    CREATE TABLE annotator_masks (
        image_id  INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        annotator TEXT NOT NULL,
        file      TEXT NOT NULL,
        class     TEXT NOT NULL CHECK (class IN ({_CLASSES})),
        sha256    TEXT NOT NULL,
        painted   INTEGER NOT NULL,
        saved_utc TEXT NOT NULL,
        PRIMARY KEY (image_id, annotator, class)
    );
    CREATE TABLE exclusions (
        image_id  INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        sha256    TEXT NOT NULL,
        painted   INTEGER NOT NULL,
        saved_utc TEXT NOT NULL,
        user      TEXT NOT NULL
    );
    """,
    # 4: per-image pre-label state and the model log move out of the settings rows;
    # no column is named "user" (reserved in PostgreSQL); team tables (empty and unused
    # in a one-person SQLite project). core/project/pg mirrors this in PostgreSQL DDL.
    f"""
    CREATE TABLE prelabel_state (
        image_id        INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        source          TEXT,
        uncertainty     REAL,
        rejected_source TEXT,
        updated_utc     TEXT
    );
    CREATE TABLE model_log (
        id       INTEGER PRIMARY KEY,
        model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
        time_utc TEXT NOT NULL,
        kind     TEXT NOT NULL,
        text     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX model_log_kind ON model_log(kind, id);
    CREATE TABLE claims (
        image_id    INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        user_name   TEXT NOT NULL,
        host        TEXT NOT NULL,
        claimed_utc TEXT NOT NULL,
        expires_utc TEXT NOT NULL
    );
    CREATE TABLE assignments (
        image_id     INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
        user_name    TEXT NOT NULL,
        assigned_utc TEXT NOT NULL
    );
    ALTER TABLE masks RENAME COLUMN user TO user_name;
    ALTER TABLE history RENAME COLUMN user TO user_name;
    ALTER TABLE exclusions RENAME COLUMN user TO user_name;
    {_SETTINGS_TO_TABLES}
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def newer_schema_error(catalog: Path, version: int) -> ProjectError:
    """The refusal of a catalog written by a newer SkinTrace, for reading and writing alike.

    Reading it could misreport what a newer schema stores differently, so read-only
    commands (``status``, ``export``, the read-only window) refuse it too.
    """
    return ProjectError(
        f"{catalog} has schema version {version}, newer than this SkinTrace supports "
        f"({SCHEMA_VERSION}); update SkinTrace to open it"
    )


def migrate(conn: sqlite3.Connection, *, catalog: str) -> int:
    """Bring the catalog to :data:`SCHEMA_VERSION`; return the version it had before."""
    before = schema_version(conn)
    if before > SCHEMA_VERSION:
        raise newer_schema_error(Path(catalog), before)
    for version in range(before + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[version - 1]
        # executescript commits first; BEGIN IMMEDIATE makes the DDL + version bump atomic.
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                raise sql_error(Path(catalog), exc) from None
            raise ProjectError(f"{catalog}: upgrade to schema {version} failed: {exc}") from None
    return before


#: Below this many free bytes, an SQLite I/O error is taken to mean a full disk.
LOW_SPACE = 1 << 20


def _disk_is_full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < LOW_SPACE
    except OSError:
        return False


def sql_error(path: Path, exc: sqlite3.Error) -> SkinTraceError:
    """A damaged catalog names the file; a full disk is a DiskFullError; others say what.

    SQLite reports a full disk as ``SQLITE_FULL`` while writing pages, but as a plain
    "disk I/O error" (``SQLITE_IOERR_SHMSIZE``, ``..._WRITE``) when it cannot grow its
    shared-memory or journal file, which is what opening a WAL catalog does first. An
    I/O error on a disk with almost no room left is called what it is.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    full = code == sqlite3.SQLITE_FULL
    if not full and code is not None and code & 0xFF == sqlite3.SQLITE_IOERR:
        full = _disk_is_full(path)
    if full:
        # SQLite rolled the transaction back: the catalog still holds the last commit.
        return DiskFullError(
            errno.ENOSPC,
            f"disk full: cannot use the catalog {path}; free some space and try again, "
            "the last saved state is unchanged",
            str(path),
        )
    if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed"
        return _damaged(path, exc)
    return ProjectError(f"catalog {path}: {exc}")


def _damaged(path: Path, exc: Exception) -> ProjectError:
    return ProjectError(
        f"catalog {path} is damaged ({exc}); restore it from a backup "
        "(masks/ and images/ are untouched)"
    )


def _cannot_open(exc: sqlite3.Error) -> bool:
    """SQLite's way of saying it cannot create the WAL index (-shm) beside a read-only catalog."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        words in str(exc) for words in ("unable to open", "readonly", "read-only")
    )


def open_reader(catalog: Path, *, read_only: bool) -> sqlite3.Connection:
    """One more reader connection to a catalog already checked by :func:`connect`.

    For a writable project it is a normal connection that refuses writes (``query_only``),
    so it shares the writer's WAL index and never waits for a write in progress.
    """
    if read_only:
        return connect(catalog, read_only=True, check=False)
    try:
        conn = sqlite3.connect(catalog, isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise sql_error(catalog, exc) from None
    return conn


def connect(catalog: Path, *, read_only: bool, check: bool = True) -> sqlite3.Connection:
    """Open the catalog (WAL, foreign keys, full sync) and check it is a sound database.

    A read-only open works wherever the project lives: where SQLite cannot create the
    WAL index beside the catalog (a read-only mount, a folder without write permission)
    it reads the catalog as an immutable file, which is what it is there. A catalog with
    a non-empty ``-wal`` journal it cannot read that way is refused with a message.
    """
    try:
        return _connect(catalog, read_only=read_only, immutable=False, check=check)
    except _RetryImmutable:
        wal = catalog.with_name(catalog.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise ProjectError(
                f"catalog {catalog} has changes in {wal.name} that cannot be read from a "
                "read-only folder; copy the project to a writable folder and open it there"
            ) from None
        return _connect(catalog, read_only=True, immutable=True, check=check)


class _RetryImmutable(Exception):
    """The read-only open needs ``immutable=1``."""


def _connect(
    catalog: Path, *, read_only: bool, immutable: bool, check: bool = True
) -> sqlite3.Connection:
    try:
        if read_only:
            conn = sqlite3.connect(
                f"{catalog.as_uri()}?mode=ro" + ("&immutable=1" if immutable else ""),
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=10,
            )
        else:
            conn = sqlite3.connect(
                catalog, isolation_level=None, check_same_thread=False, timeout=10
            )
    except sqlite3.Error as exc:
        if read_only and not immutable and _cannot_open(exc):
            raise _RetryImmutable from None
        raise ProjectError(f"catalog {catalog} cannot be opened: {exc}") from None
    try:
        if schema_version(conn) == 0:
            # create() migrates before the catalog gets its name, so version 0 is an
            # empty (truncated) file or another program's database: never touch it.
            conn.close()
            raise ProjectError(
                f"catalog {catalog} is empty or not a SkinTrace catalog; restore it from a "
                "backup (masks/ and images/ are untouched)"
            )
        if not read_only:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        result = conn.execute("PRAGMA quick_check").fetchone()[0] if check else "ok"
        if result != "ok":
            raise sqlite3.DatabaseError(result)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if read_only and not immutable and _cannot_open(exc):
            raise _RetryImmutable from None
        raise sql_error(catalog, exc) from None
    return conn
