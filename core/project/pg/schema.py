"""The team catalog's PostgreSQL schema: numbered SQL migrations and a version table.

``migrations/NNNN_*.sql`` are applied in order, in one transaction together with
the bump of ``schema_version``; ``migrations/roles.sql`` (roles, grants, the status
guard) is applied again after them, so new tables get their grants. The first file is
number 4: a team database starts at the version the SQLite catalog calls schema 4.
A transaction-scoped advisory lock makes two workstations that open a new team project
at the same moment migrate it once. A database newer than this SkinTrace is refused.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING

from core.errors import ProjectError

if TYPE_CHECKING:
    import psycopg

#: The schema version this SkinTrace writes (the same number as the SQLite catalog's).
SCHEMA_VERSION = 4
#: First migration shipped for PostgreSQL.
FIRST_VERSION = 4
#: pg_advisory_xact_lock key held while migrating ("SkTr" in ASCII).
MIGRATION_LOCK = 0x536B5472

_NUMBERED = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> dict[int, str]:
    """``{version: SQL}`` of the shipped migrations, checked to be gap-free."""
    folder = resources.files("core.project.pg") / "migrations"
    found: dict[int, str] = {}
    for entry in folder.iterdir():
        match = _NUMBERED.match(entry.name)
        if match:
            found[int(match.group(1))] = entry.read_text(encoding="utf-8")
    expected = list(range(FIRST_VERSION, SCHEMA_VERSION + 1))
    if sorted(found) != expected:
        raise ProjectError(f"SkinTrace's PostgreSQL migrations are incomplete: {sorted(found)}")
    return found


def grants_sql() -> str:
    return (resources.files("core.project.pg") / "migrations" / "roles.sql").read_text(
        encoding="utf-8"
    )


def schema_version(conn: psycopg.Connection) -> int:
    """The database's schema version; 0 for a database without SkinTrace tables."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def newer_schema_error(where: str, version: int) -> ProjectError:
    return ProjectError(
        f"team project {where} has schema version {version}, newer than this SkinTrace "
        f"supports ({SCHEMA_VERSION}); update SkinTrace to open it"
    )


def migrate(conn: psycopg.Connection, *, where: str) -> int:
    """Bring the database to :data:`SCHEMA_VERSION`; return the version it had before.

    ``conn`` must be in autocommit mode (each migration is its own transaction).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        before = schema_version(conn)
        if before > SCHEMA_VERSION:
            raise newer_schema_error(where, before)
        if before == SCHEMA_VERSION:
            return before
        if before == 0:
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ).fetchone()
            if tables and tables[0]:
                raise ProjectError(
                    f"{where} holds other tables and no SkinTrace catalog; use an empty "
                    "database for a team project"
                )
            conn.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_utc TEXT "
                "NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', "
                '\'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\'))'
            )
        scripts = migrations()
        for version in range(max(before + 1, FIRST_VERSION), SCHEMA_VERSION + 1):
            conn.execute(scripts[version].encode())
            conn.execute("INSERT INTO schema_version(version) VALUES (%s)", (version,))
        conn.execute(grants_sql().encode())
        conn.execute("GRANT SELECT ON schema_version TO skintrace_annotator")
    return before
