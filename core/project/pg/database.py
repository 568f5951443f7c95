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
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from core.errors import DiskFullError, ProjectError
from core.project.db import Database, ReaderPool, Tx

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


_QUOTED = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""")
_LIKE = re.compile(r"\bLIKE\b", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> bytes:
    """SQLite-style SQL → psycopg: outside quotes ``?`` → ``%s`` and ``LIKE`` → ``ILIKE``
    (SQLite's LIKE ignores ASCII case); ``%`` → ``%%`` everywhere.

    Quotes are ``'...'`` literals and ``"..."`` identifiers (doubled quotes inside them
    included).
    """
    parts = _QUOTED.split(sql)
    for i, part in enumerate(parts):
        part = part.replace("%", "%%")
        if i % 2 == 0:  # outside quotes
            part = _LIKE.sub("ILIKE", part.replace("?", "%s"))
        parts[i] = part
    return "".join(parts).encode()


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


class PgTx(Tx):
    """:class:`core.project.db.Tx` on a psycopg connection, with SQLite-style SQL."""

    def _run(self, sql: str, args: Sequence[Any]) -> Any:
        return super()._run(sql, [_arg(a) for a in args])

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        rows = [[_arg(a) for a in row] for row in rows]
        return super().executemany(sql, rows) if rows else 0


def _translate_text(sql: str) -> str:
    return translate(sql).decode()


class PostgresDatabase(Database):
    """A team catalog: a serialized writer and a pool of reader connections.

    Parameters
    ----------
    conninfo : str
        A libpq connection string or URL (``postgresql://host/db``, ``service=skin``).
        A password in it is used but never shown; prefer ``~/.pgpass``.
    read_only : bool
        Refuse every write (the server enforces it: read-only sessions).
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
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: ReaderPool[psycopg.Connection] = ReaderPool(
            self._open_reader, closed_error=self._closed_error
        )
        first = self._connect()
        self.migrated_from: int | None = None
        try:
            if migrate and not read_only:
                self.migrated_from = run_migrations(first, where=self.describe)
            else:
                try:
                    version = schema_version(first)
                except Exception as exc:
                    raise self.error(exc) from None
                if version > SCHEMA_VERSION:
                    raise newer_schema_error(self.describe, version)
                if version < SCHEMA_VERSION:
                    raise ProjectError(
                        f"team project {self.describe} has no catalog at schema "
                        f"{SCHEMA_VERSION} (found {version}); ask its admin to open it once "
                        "for writing"
                    )
        except BaseException:
            first.close()
            raise
        self._writer: psycopg.Connection | None = None
        if read_only:
            self._readers.add(self._as_reader(first))
        else:
            self._writer = first

    def schema_version(self) -> int:
        with self.read() as tx:
            return int(tx.scalar("SELECT max(version) FROM schema_version", default=0) or 0)

    def upgrade(self) -> int:
        """PostgreSQL migrates on connect (``migrate=True``); the version it had then."""
        return self.migrated_from if self.migrated_from is not None else self.schema_version()

    # ------------------------------------------------------------------ connections

    def error(self, exc: Exception) -> Exception:
        import psycopg

        if isinstance(exc, psycopg.Error):
            return pg_error(self.describe, exc)
        return exc

    def _connect(self) -> psycopg.Connection:
        import psycopg

        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="skintrace",
            )
            if self.read_only:
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            return conn
        except psycopg.Error as exc:
            raise pg_error(self.describe, exc) from None

    def _tx(self, conn: psycopg.Connection, *, writable: bool) -> PgTx:
        import psycopg

        return PgTx(
            conn,
            error=self.error,
            errors=(psycopg.Error,),
            translate=_translate_text,
            writable=writable,
        )

    def _closed_error(self) -> ProjectError:
        return ProjectError(f"team project {self.describe} is closed")

    def _check_open(self) -> None:
        if self.closed:
            raise self._closed_error()

    @property
    def closed(self) -> bool:
        return self._readers.closed

    # ------------------------------------------------------------------ the interface

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        A nested call in the same thread joins the outer transaction.
        """
        import psycopg

        if self.read_only:
            raise ProjectError(
                f"team project {self.describe} is open read-only; reopen it for writing"
            )
        with self._write_lock:
            outer = getattr(self._local, "tx", None)
            if outer is not None:
                yield outer
                return
            self._check_open()
            conn = self._writer
            assert conn is not None
            tx = self._tx(conn, writable=True)
            try:
                with conn.transaction():
                    self._local.tx = tx
                    try:
                        yield tx
                    finally:
                        self._local.tx = None
            except psycopg.Error as exc:  # the commit itself failed
                raise self.error(exc) from None

    def _open_reader(self) -> psycopg.Connection:
        return self._as_reader(self._connect())

    @staticmethod
    def _as_reader(conn: psycopg.Connection) -> psycopg.Connection:
        """One snapshot for every query of a read block (the writer stays READ COMMITTED)."""
        from psycopg import IsolationLevel

        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        return conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read on a reader connection (never waits for a write).

        Inside this thread's write transaction it reads through that transaction.
        """
        import psycopg

        inner = getattr(self._local, "tx", None)
        if inner is not None:
            yield inner
            return
        conn = self._readers.take()
        try:
            with conn.transaction():
                yield self._tx(conn, writable=False)
        except psycopg.Error as exc:
            raise self.error(exc) from None
        finally:
            self._readers.give(conn, broken=bool(conn.closed))

    @property
    def user(self) -> str:
        """The PostgreSQL role this workstation works as (history, claims)."""
        with self.read() as tx:
            return str(tx.scalar("SELECT current_user"))

    def roles(self) -> set[str]:
        """The SkinTrace roles the current user has (``annotator``, ``reviewer``, ``admin``)."""
        with self.read() as tx:
            rows = tx.query(
                "SELECT rolname FROM pg_roles WHERE rolname IN ('skintrace_annotator', "
                "'skintrace_reviewer', 'skintrace_admin') "
                "AND pg_has_role(current_user, oid, 'MEMBER')"
            )
        return {name.removeprefix("skintrace_") for (name,) in rows}

    def close(self) -> None:
        """Close every connection (idempotent)."""
        with self._write_lock, self._readers.lock:
            if self._readers.closed:
                return
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            self._readers.close()

    def __repr__(self) -> str:
        return f"<PostgresDatabase {self.describe}{' read-only' if self.read_only else ''}>"
