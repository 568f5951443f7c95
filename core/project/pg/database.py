"""A team catalog on PostgreSQL behind the storage interface (``Database``/``Tx``).

psycopg 3 hands the connection string to libpq unchanged, so libpq's usual places for
credentials apply: ``~/.pgpass`` or ``PGPASSFILE``, a service file (``service=skin``,
``PGSERVICEFILE``), ``PGHOST``/``PGUSER``/... and Kerberos/GSS or client certificates.
SkinTrace never stores a password and never shows one: :func:`describe` keeps only the
user, host, port and database of a connection string for messages and logs.

Two connections: the writer (one transaction at a time, serialized per process) and the
reader, so that listing the catalog never waits for a save in progress (PostgreSQL's
MVCC: the reader sees the last commit).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import DiskFullError, ProjectError

if TYPE_CHECKING:
    import psycopg

DIALECT = "postgresql"
SCHEMES = ("postgresql://", "postgres://")
#: Seconds libpq waits for the server before an open fails with a message.
CONNECT_TIMEOUT = 10


def is_team_url(target: object) -> bool:
    """Whether ``target`` names a team project (a PostgreSQL URL) rather than a folder."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def describe(conninfo: str) -> str:
    """``user@host:port/dbname`` of a connection string, for messages; never a password.

    Values that libpq would take from the environment or a service file are shown as
    far as the string itself names them.
    """
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(conninfo)
    except Exception:
        return "an unreadable connection string"
    host = str(parts.get("host") or parts.get("hostaddr") or "")
    if host.startswith("/"):
        host = "localhost (socket)"
    text = host or "localhost"
    if parts.get("port"):
        text += f":{parts['port']}"
    if parts.get("dbname"):
        text += f"/{parts['dbname']}"
    elif parts.get("service"):
        text = f"service {parts['service']}"
    if parts.get("user"):
        text = f"{parts['user']}@{text}"
    return text


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> bytes:
    """SQLite-style SQL → psycopg: ``?`` → ``%s`` outside quotes, ``%`` → ``%%``.

    Quotes are ``'...'`` literals and ``"..."`` identifiers (doubled quotes inside them
    are handled by toggling twice).
    """
    out: list[str] = []
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out).encode()


def _arg(value: Any) -> Any:
    """Python values as SQLite would store them: bools as 0/1, numpy scalars as Python."""
    if isinstance(value, bool):
        return int(value)
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    return value


def pg_error(where: str, exc: Exception) -> Exception:
    """A psycopg error as a one-line ProjectError (a full server disk: DiskFullError)."""
    import psycopg

    state = getattr(exc, "sqlstate", None) or ""
    diag = getattr(exc, "diag", None)
    first = (getattr(diag, "message_primary", None) or str(exc)).strip().splitlines()
    message = first[0] if first else type(exc).__name__
    if state == "53100":  # disk_full
        return DiskFullError(
            errno.ENOSPC,
            f"the database server of team project {where} is out of disk space; ask its "
            "admin to free some, the last saved state is unchanged",
            where,
        )
    if state == "42501":  # insufficient_privilege
        return ProjectError(f"team project {where}: {message} (ask the project admin for a role)")
    if isinstance(exc, psycopg.OperationalError):
        return ProjectError(f"team project {where} cannot be reached: {message}")
    return ProjectError(f"team project {where}: {message}")


class PgTx:
    """One transaction (or one read) on a psycopg connection, with SQLite-style SQL."""

    def __init__(self, conn: psycopg.Connection, where: str) -> None:
        self._conn = conn
        self._where = where

    def _run(self, sql: str, args: Sequence[Any]) -> psycopg.Cursor:
        import psycopg

        try:
            return self._conn.execute(translate(sql), [_arg(a) for a in args])
        except psycopg.Error as exc:
            raise pg_error(self._where, exc) from None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        return self._run(sql, args).rowcount

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement for each row of arguments; rows changed in all."""
        import psycopg

        if not rows:
            return 0
        try:
            with self._conn.cursor() as cur:
                cur.executemany(translate(sql), [[_arg(a) for a in row] for row in rows])
                return cur.rowcount
        except psycopg.Error as exc:
            raise pg_error(self._where, exc) from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        return self._run(sql, args).fetchall()

    def one(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        return self._run(sql, args).fetchone()

    def scalar(self, sql: str, args: Sequence[Any] = (), default: Any = None) -> Any:
        row = self.one(sql, args)
        return default if row is None or row[0] is None else row[0]

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run an INSERT ending in ``RETURNING id``; the new id."""
        row = self.one(sql, args)
        if row is None:
            raise ProjectError(f"team project {self._where}: an insert returned no id")
        return int(row[0])


class PostgresDatabase:
    """A team catalog: a writer and a reader connection to one PostgreSQL database.

    Parameters
    ----------
    conninfo : str
        A libpq connection string or URL (``postgresql://host/db``, ``service=skin``).
        A password in it is used but never shown; prefer ``~/.pgpass``.
    read_only : bool
        Refuse every write (the server enforces it: read-only transactions).
    migrate : bool
        Create or upgrade the schema (needs the database owner; ignored when read-only).
    """

    dialect = DIALECT

    def __init__(self, conninfo: str, *, read_only: bool = False, migrate: bool = True) -> None:
        from core.project.pg.schema import SCHEMA_VERSION, newer_schema_error, schema_version
        from core.project.pg.schema import migrate as run_migrations

        self.read_only = read_only
        self.describe = describe(conninfo)
        self._conninfo = conninfo
        self._lock = threading.RLock()
        self._read_lock = threading.RLock()
        self._writer = self._connect()
        try:
            if migrate and not read_only:
                self.migrated_from: int | None = run_migrations(self._writer, where=self.describe)
            else:
                self.migrated_from = None
                try:
                    version = schema_version(self._writer)
                except Exception as exc:
                    raise self._error(exc) from None
                if version > SCHEMA_VERSION:
                    raise newer_schema_error(self.describe, version)
                if version < SCHEMA_VERSION:
                    raise ProjectError(
                        f"team project {self.describe} has no catalog at schema "
                        f"{SCHEMA_VERSION} (found {version}); ask its admin to open it once "
                        "for writing"
                    )
            self._reader = self._connect()
        except BaseException:
            self._writer.close()
            raise
        if read_only:
            for conn in (self._writer, self._reader):
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")

    def _error(self, exc: Exception) -> Exception:
        import psycopg

        if isinstance(exc, psycopg.Error):
            return pg_error(self.describe, exc)
        return exc

    def _connect(self) -> psycopg.Connection:
        import psycopg

        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="skintrace",
            )
        except psycopg.Error as exc:
            raise pg_error(self.describe, exc) from None

    # ------------------------------------------------------------------ the interface

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgTx]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        import psycopg

        if self.read_only:
            raise ProjectError(
                f"team project {self.describe} is open read-only; reopen it for writing"
            )
        with self._lock:
            conn = self._live(self._writer)
            try:
                with conn.transaction():
                    yield PgTx(conn, self.describe)
            except psycopg.Error as exc:  # the commit itself failed
                raise pg_error(self.describe, exc) from None

    @contextlib.contextmanager
    def read(self) -> Iterator[PgTx]:
        """A consistent read on the reader connection (never waits for a write)."""
        import psycopg

        with self._read_lock:
            conn = self._live(self._reader)
            try:
                with conn.transaction():
                    yield PgTx(conn, self.describe)
            except psycopg.Error as exc:
                raise pg_error(self.describe, exc) from None

    def _live(self, conn: psycopg.Connection) -> psycopg.Connection:
        if conn.closed:
            raise ProjectError(f"team project {self.describe} is closed")
        return conn

    @property
    def user(self) -> str:
        """The PostgreSQL role this workstation works as (history, claims)."""
        with self.read() as tx:
            return str(tx.scalar("SELECT current_user"))

    def roles(self) -> set[str]:
        """The SkinTrace roles the current user has (``annotator``, ``reviewer``, ``admin``)."""
        with self.read() as tx:
            rows = tx.query(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'skintrace!_%' ESCAPE '!' "
                "AND pg_has_role(current_user, oid, 'MEMBER')"
            )
        return {name.removeprefix("skintrace_") for (name,) in rows}

    def close(self) -> None:
        """Close both connections (idempotent)."""
        with self._lock, self._read_lock:
            for conn in (self._writer, getattr(self, "_reader", None)):
                if conn is not None and not conn.closed:
                    conn.close()

    @property
    def closed(self) -> bool:
        return self._writer.closed

    def __repr__(self) -> str:
        return f"<PostgresDatabase {self.describe}{' read-only' if self.read_only else ''}>"
