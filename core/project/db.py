"""The catalog's public transaction API: one interface, a SQLite and a PostgreSQL backend.

:class:`Database` hands out two kinds of :class:`Tx`:

- :meth:`Database.transaction` — one write transaction, committed when the block ends,
  rolled back when it raises; write transactions of one process are serialized (a
  nested call in the same thread joins the outer transaction);
- :meth:`Database.read` — a consistent read on a READER connection that never waits for
  a write in progress (SQLite in WAL mode: readers see the last commit while a writer
  works; each concurrent reader gets its own connection from a small pool).

SQL written against :class:`Tx` serves both backends: ``?`` placeholders,
``INSERT ... ON CONFLICT`` upserts, ``RETURNING id`` for new ids, no column named
``user``, booleans as INTEGER 0/1, times as ISO-8601 UTC text (``records.utc_now``).
Backend errors become :class:`~core.errors.ProjectError` with one line (a full disk
stays a :class:`~core.errors.DiskFullError`).
"""

from __future__ import annotations

import abc
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from core.errors import ProjectError

__all__ = ["Database", "SQLiteDatabase", "Tx"]


class Tx:
    """A thin wrapper over one connection inside a transaction (the same on both backends).

    Parameters
    ----------
    conn : DB-API connection
    error : callable
        Turns a backend exception into the error to raise (a ProjectError).
    errors : tuple of exception types
        The backend's exceptions that ``error`` translates.
    translate : callable, optional
        Rewrites the SQL for the backend (PostgreSQL: ``?`` → ``%s``).
    """

    def __init__(
        self,
        conn: Any,
        *,
        error: Callable[[Exception], Exception],
        errors: tuple[type[Exception], ...],
        translate: Callable[[str], str] | None = None,
        writable: bool = True,
    ) -> None:
        self._conn = conn
        self._error = error
        self._errors = errors
        self._translate = translate or (lambda sql: sql)
        self.writable = writable

    def _run(self, sql: str, args: Sequence[Any]) -> Any:
        try:
            cur = self._conn.cursor()
            cur.execute(self._translate(sql), tuple(args))
            return cur
        except self._errors as exc:
            raise self._error(exc) from None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; return its row count."""
        return int(self._run(sql, args).rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row of ``rows``; return the total row count."""
        try:
            cur = self._conn.cursor()
            cur.executemany(self._translate(sql), [tuple(r) for r in rows])
            return int(cur.rowcount)
        except self._errors as exc:
            raise self._error(exc) from None

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """All rows of a query."""
        cur = self._run(sql, args)
        try:
            return [tuple(r) for r in cur.fetchall()]
        except self._errors as exc:
            raise self._error(exc) from None

    def one(self, sql: str, args: Sequence[Any] = ()) -> tuple | None:
        """The first row of a query, or None."""
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def scalar(self, sql: str, args: Sequence[Any] = (), default: Any = None) -> Any:
        """The first column of the first row, or ``default`` when there is no row."""
        row = self.one(sql, args)
        return default if row is None else row[0]

    def insert(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run an ``INSERT ... RETURNING id``; return the new id."""
        if "returning" not in sql.lower():
            raise ValueError("Tx.insert needs SQL ending with RETURNING id")
        row = self.one(sql, args)
        if row is None:
            raise ProjectError("the catalog returned no id for a new row")
        return int(row[0])


#: A backend's connection type.
C = TypeVar("C")


class ReaderPool(Generic[C]):
    """Reader connections of one catalog, shared by both backends.

    ``take()`` hands out a free connection or opens one with ``open_reader``; ``give()``
    takes it back (or closes it once the pool is closed); ``close()`` closes the free ones
    (a reader busy in another thread is closed when it comes back).
    """

    def __init__(self, open_reader: Callable[[], C], *, closed_error: Callable[[], Exception]):
        self._open = open_reader
        self._closed_error = closed_error
        self.lock = threading.Lock()
        self._free: list[C] = []
        self._all: list[C] = []
        self.closed = False

    def add(self, conn: C) -> None:
        """A connection opened elsewhere joins the pool as a free reader."""
        with self.lock:
            self._all.append(conn)
            self._free.append(conn)

    def take(self) -> C:
        with self.lock:
            if self.closed:
                raise self._closed_error()
            if self._free:
                return self._free.pop()
        conn = self._open()
        with self.lock:
            self._all.append(conn)
        return conn

    def give(self, conn: C, *, broken: bool = False) -> None:
        with self.lock:
            if self.closed or broken:
                conn.close()  # type: ignore[attr-defined]
            else:
                self._free.append(conn)

    def close(self) -> None:
        """Close the free readers; call with ``lock`` held."""
        self.closed = True
        for conn in self._all:
            if conn in self._free:
                conn.close()  # type: ignore[attr-defined]
        self._free.clear()


class Database(abc.ABC):
    """A catalog connection pair: a serialized writer and non-blocking readers."""

    dialect: str
    read_only: bool
    #: For messages: the catalog file, or ``host/database`` (never a password).
    describe: str

    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction (commit on exit, rollback on exception)."""

    @abc.abstractmethod
    def read(self) -> contextlib.AbstractContextManager[Tx]:
        """A consistent read that never waits for a write in progress."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection (idempotent)."""

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        """One query in its own :meth:`read` (several related queries: use ``read()``)."""
        with self.read() as tx:
            return tx.query(sql, args)

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...

    @abc.abstractmethod
    def schema_version(self) -> int:
        """The catalog's schema version (``core.project.schema.SCHEMA_VERSION`` when current)."""

    @abc.abstractmethod
    def upgrade(self) -> int:
        """Migrate a writable catalog to the current schema; return the version it had.

        A catalog newer than this SkinTrace raises ProjectError (never downgraded).
        """

    def read_only_error(self) -> ProjectError:
        return ProjectError(f"project {self.describe} is open read-only; reopen it for writing")


class SQLiteDatabase(Database):
    """The catalog file of a one-person project (WAL, foreign keys, full sync).

    Parameters
    ----------
    path : Path
        ``catalog.sqlite``.
    read_only : bool
        No writer connection; readers open the file read-only (immutable where the
        folder cannot hold SQLite's WAL index).
    """

    dialect = "sqlite"

    def __init__(self, path: Path, *, read_only: bool) -> None:
        from core.project.schema import connect

        self.path = Path(path)
        self.describe = str(self.path)
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: ReaderPool[sqlite3.Connection] = ReaderPool(
            self._open_reader, closed_error=self._closed_error
        )
        # The first connection checks the file (quick_check, schema version > 0).
        first = connect(self.path, read_only=read_only)
        self._writer: sqlite3.Connection | None = None if read_only else first
        if read_only:
            self._readers.add(first)

    # ------------------------------------------------------------------ errors

    def error(self, exc: Exception) -> Exception:
        from core.project.schema import sql_error

        if isinstance(exc, sqlite3.Error):
            return sql_error(self.path, exc)
        return exc

    def _tx(self, conn: sqlite3.Connection, *, writable: bool) -> Tx:
        return Tx(conn, error=self.error, errors=(sqlite3.Error,), writable=writable)

    @property
    def closed(self) -> bool:
        return self._readers.closed

    def _closed_error(self) -> ProjectError:
        return ProjectError(f"catalog {self.describe} is closed")

    def _check_open(self) -> None:
        if self.closed:
            raise self._closed_error()

    # ------------------------------------------------------------------ writes

    @property
    def writer(self) -> sqlite3.Connection:
        """The writer connection (for migrations and maintenance; prefer :meth:`transaction`)."""
        self._check_open()
        if self._writer is None:
            raise self.read_only_error()
        return self._writer

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.read_only:
            raise self.read_only_error()
        with self._write_lock:
            outer = getattr(self._local, "tx", None)
            if outer is not None:  # nested in this thread: part of the outer transaction
                yield outer
                return
            conn = self.writer
            tx = self._tx(conn, writable=True)
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.tx = tx
                yield tx
                self._local.tx = None
                conn.execute("COMMIT")
            except BaseException as exc:
                self._local.tx = None
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self.error(exc) from None
                raise

    # ------------------------------------------------------------------ reads

    def _open_reader(self) -> sqlite3.Connection:
        from core.project.schema import open_reader

        return open_reader(self.path, read_only=self.read_only)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        inner = getattr(self._local, "tx", None)
        if inner is not None:  # inside this thread's write: read what it wrote
            yield inner
            return
        conn = self._readers.take()
        try:
            conn.execute("BEGIN")  # one snapshot for every query of the block
            yield self._tx(conn, writable=False)
        except sqlite3.Error as exc:
            raise self.error(exc) from None
        finally:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("COMMIT")
            self._readers.give(conn)

    # ------------------------------------------------------------------ schema

    def schema_version(self) -> int:
        with self.read() as tx:
            return int(tx.scalar("PRAGMA user_version", default=0))

    def upgrade(self) -> int:
        from core.project.schema import migrate

        with self._write_lock:
            return migrate(self.writer, catalog=self.describe)

    # ------------------------------------------------------------------ close

    def close(self) -> None:
        with self._write_lock, self._readers.lock:
            if self._readers.closed:
                return
            if self._writer is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute("PRAGMA optimize")
                self._writer.close()
                self._writer = None
            self._readers.close()
