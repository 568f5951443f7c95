"""The PostgreSQL catalog: migrations, roles and grants, the Tx wrapper, messages."""

from __future__ import annotations

import threading

import psycopg
import pytest

from core.errors import ProjectError
from core.project.pg.database import PostgresDatabase, describe, translate
from core.project.pg.schema import SCHEMA_VERSION, schema_version
from tests.pg import PgServer


def test_translate_placeholders_outside_quotes_only() -> None:
    sql = "SELECT '?', \"a?\" FROM t WHERE x = ? AND y like '%z' AND w = ? AND 'it''s ?' = ?"
    assert translate(sql) == (
        b"SELECT '?', \"a?\" FROM t WHERE x = %s AND y ILIKE '%%z' AND w = %s AND 'it''s ?' = %s"
    )
    assert translate("SELECT 'LIKE', unlike FROM t") == b"SELECT 'LIKE', unlike FROM t"


def test_describe_never_shows_a_password() -> None:
    text = describe("postgresql://ana:s3cret@db.lab:5433/skin?sslmode=require")
    assert text == "ana@db.lab:5433/skin"
    assert "s3cret" not in describe("host=db user=ana password=s3cret dbname=skin")
    assert describe("service=skin") == "service skin"


def test_migrate_creates_schema_4_once(pg_url: str) -> None:
    db = PostgresDatabase(pg_url)
    try:
        assert db.migrated_from == 0
        with db.read() as tx:
            tables = {
                name
                for (name,) in tx.query(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
        assert {"images", "masks", "history", "prelabel_state", "model_log", "claims"} <= tables
        assert {"assignments", "blobs", "schema_version"} <= tables
    finally:
        db.close()
    again = PostgresDatabase(pg_url)
    assert again.migrated_from == SCHEMA_VERSION
    again.close()
    with psycopg.connect(pg_url) as conn:
        assert schema_version(conn) == SCHEMA_VERSION


def test_tx_round_trip_and_rollback(pg_url: str) -> None:
    db = PostgresDatabase(pg_url)
    try:
        with db.transaction() as tx:
            iid = tx.insert(
                "INSERT INTO images(name, path, copied, content_hash, size_bytes, rows, cols, "
                "added_utc, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                ("a.png", "a.png", True, "h1", 10, 4, 5, "t", "t"),
            )
            # PostgreSQL wants the old row's columns qualified (SQLite accepts both).
            for _ in range(2):
                tx.execute(
                    "INSERT INTO masks(image_id, class, sha256, painted, revision, saved_utc, "
                    "user_name) VALUES (?, 'wrinkle', 'x', 3, 1, 't', 'ana') "
                    "ON CONFLICT(image_id, class) DO UPDATE SET revision = masks.revision + 1",
                    (iid,),
                )
        with pytest.raises(RuntimeError), db.transaction() as tx:
            tx.execute("UPDATE images SET name = 'b.png'")
            raise RuntimeError("undo")
        with db.read() as tx:
            assert tx.scalar("SELECT name FROM images WHERE copied = ?", (1,)) == "a.png"
            assert tx.scalar("SELECT revision FROM masks") == 2
            assert tx.scalar("SELECT name FROM images WHERE id = ?", (999,), "none") == "none"
        with pytest.raises(ProjectError, match=r"^team project .*duplicate key"):
            with db.transaction() as tx:
                tx.execute(
                    "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, "
                    "added_utc, updated_utc) VALUES ('c', 'c', 'h1', 1, 1, 1, 't', 't')"
                )
    finally:
        db.close()


def test_reader_does_not_wait_for_a_write(pg_url: str) -> None:
    db = PostgresDatabase(pg_url)
    seen: list[int] = []

    def other_thread() -> None:
        with db.read() as reader:  # the last commit, not the open transaction
            seen.append(reader.scalar("SELECT count(*) FROM settings"))

    try:
        with db.transaction() as tx:
            tx.execute("INSERT INTO settings(key, value_json) VALUES ('k', '1')")
            thread = threading.Thread(target=other_thread)
            thread.start()
            thread.join(30)
            assert seen == [0]
            with db.read() as same:  # this thread's own write, through its transaction
                assert same.scalar("SELECT count(*) FROM settings") == 1
            with db.transaction() as nested:  # joins the outer one
                nested.execute("INSERT INTO settings(key, value_json) VALUES ('j', '2')")
        with db.read() as reader:
            assert reader.scalar("SELECT count(*) FROM settings") == 2
    finally:
        db.close()


def test_read_only_refuses_writes(pg_url: str) -> None:
    PostgresDatabase(pg_url).close()
    db = PostgresDatabase(pg_url, read_only=True)
    try:
        with pytest.raises(ProjectError, match="read-only"), db.transaction():
            pass
        with pytest.raises(ProjectError, match="read-only transaction"), db.read() as tx:
            tx.execute("INSERT INTO settings(key, value_json) VALUES ('k', '1')")
    finally:
        db.close()


def test_open_needs_a_migrated_database_when_read_only(pg_url: str) -> None:
    with pytest.raises(ProjectError, match="no catalog at schema"):
        PostgresDatabase(pg_url, read_only=True)


def test_database_with_other_tables_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE payroll (id INT)")
    with pytest.raises(ProjectError, match="other tables"):
        PostgresDatabase(pg_url)


def test_unreachable_server_is_one_line(pg_server: PgServer) -> None:
    url = pg_server.url("no_such_db")
    with pytest.raises(ProjectError, match=r"cannot be reached") as info:
        PostgresDatabase(url)
    assert "\n" not in str(info.value)


def _login(pg_server: PgServer, url: str, name: str, role: str) -> str:
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE skintrace_{role}")
    return url.replace("postgres@", f"{name}@", 1)


def test_roles_annotator_cannot_accept_reviewer_can(pg_server: PgServer, pg_url: str) -> None:
    admin = PostgresDatabase(pg_url)
    with admin.transaction() as tx:
        iid = tx.insert(
            "INSERT INTO images(name, path, content_hash, size_bytes, rows, cols, added_utc, "
            "updated_utc, status) VALUES ('a', 'a', 'h', 1, 1, 1, 't', 't', 'submitted') "
            "RETURNING id"
        )
    admin.close()
    ana = PostgresDatabase(_login(pg_server, pg_url, "ana_t", "annotator"))
    bob = PostgresDatabase(_login(pg_server, pg_url, "bob_t", "reviewer"))
    try:
        assert ana.roles() == {"annotator"}
        assert bob.roles() == {"annotator", "reviewer"}
        assert ana.user == "ana_t"
        with pytest.raises(ProjectError, match="only a reviewer"), ana.transaction() as tx:
            tx.execute("UPDATE images SET status = 'accepted' WHERE id = ?", (iid,))
        with pytest.raises(ProjectError, match="only a reviewer"), ana.transaction() as tx:
            tx.execute(
                "INSERT INTO history(image_id, from_status, to_status, user_name, time_utc) "
                "VALUES (?, 'submitted', 'accepted', 'ana_t', 't')",
                (iid,),
            )
        with pytest.raises(ProjectError, match="permission denied"), ana.transaction() as tx:
            tx.execute("DELETE FROM images")
        with ana.transaction() as tx:  # annotators move their own work along
            tx.execute("UPDATE images SET status = 'in_progress' WHERE id = ?", (iid,))
            tx.execute("UPDATE images SET status = 'submitted' WHERE id = ?", (iid,))
        with bob.transaction() as tx:
            tx.execute("UPDATE images SET status = 'accepted' WHERE id = ?", (iid,))
            tx.execute(
                "INSERT INTO history(image_id, from_status, to_status, user_name, time_utc) "
                "VALUES (?, 'submitted', 'accepted', 'bob_t', 't')",
                (iid,),
            )
        with bob.read() as tx:
            assert tx.scalar("SELECT status FROM images") == "accepted"
    finally:
        ana.close()
        bob.close()


def test_password_comes_from_pgpassfile_and_is_never_shown(
    pg_server: PgServer, pg_url: str, tmp_path, monkeypatch
) -> None:
    from tests.pg import PASSWORD_ROLE

    PostgresDatabase(pg_url).close()  # the schema and roles exist
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")
        conn.execute(
            f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'hunter2-secret' "
            "IN ROLE skintrace_annotator"
        )
    url = pg_url.replace("postgres@", f"{PASSWORD_ROLE}@", 1)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "nothing"))
    with pytest.raises(ProjectError, match="cannot be reached") as info:
        PostgresDatabase(url)
    assert "\n" not in str(info.value)
    wrong = url.replace(f"{PASSWORD_ROLE}@", f"{PASSWORD_ROLE}:wrong-secret@", 1)
    with pytest.raises(ProjectError, match="password authentication failed") as info:
        PostgresDatabase(wrong)
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in repr(info.value)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{PASSWORD_ROLE}:hunter2-secret\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))  # libpq's usual place, untouched by us
    db = PostgresDatabase(url)
    try:
        assert db.user == PASSWORD_ROLE and db.roles() == {"annotator"}
        assert "hunter2" not in repr(db) and "hunter2" not in db.describe
    finally:
        db.close()
