"""The test PostgreSQL server itself: private, fresh databases, no TCP."""

from __future__ import annotations

import psycopg

from tests.pg import PgServer


def test_each_test_gets_an_empty_database(pg_url: str, pg_server: PgServer) -> None:
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
    other = pg_server.create_database()
    assert other != pg_url
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)


def test_server_listens_on_its_socket_only(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.url()) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.execute("SHOW unix_socket_directories").fetchone() == (
            str(pg_server.socket_dir),
        )
        assert (
            conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0]
            >= 160000
        )
