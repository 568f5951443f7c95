"""The :class:`Catalog` under every :class:`~core.project.Project`: catalog, masks, statuses.

Layout of a project folder::

    catalog.sqlite      the truth: images, mask hashes, statuses, history, parameters
    .skintrace.lock     writer lock (see :mod:`core.project.lock`)
    images/             images copied into the project
    masks/<id>/<class>.png      rough masks, 0/255 lossless PNG (the newest save)
    annotators/<id>/<key>.<class>.png  earlier annotators' rough masks (several annotators)
    prelabels/<id>/<class>.png  pre-label maps, uint8 PNG
    models/  exports/   checkpoints and datasets made from the project

Threading: one ``Project`` may be used from several threads (the GUI thread and one
background writer). Every change is one transaction of :attr:`Project.db`
(:mod:`core.project.db`), serialized per process; reads use their own connection and
never wait for a write in progress (a save encodes and stages its PNG files before it
takes the write lock, and holds it only to commit).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from core.atomic import default_mode, disk_full_error, is_disk_full
from core.bounded import loads_bounded
from core.errors import ProjectError
from core.project.annotators import AnnotatorsMixin, committed_annotator_files
from core.project.assist import AssistMixin
from core.project.db import Database, SQLiteDatabase, Tx
from core.project.exclusion import ExclusionMixin, committed_exclusions
from core.project.lock import WriterLock, current_user
from core.project.masks import (
    BlobStore,
    FileStore,
)
from core.project.records import HistoryEntry, ImageRecord, record_move, utc_now
from core.project.rough import RoughMixin
from core.project.schema import (
    SCHEMA_VERSION,
    migrate,
    newer_schema_error,
    sql_error,
)
from core.project.status import Status, check_transition

if TYPE_CHECKING:
    from core.gt.engine import GTParams

CATALOG = "catalog.sqlite"
PROJECT_FORMAT = "skintrace-project"
SUBFOLDERS = ("images", "masks", "annotators", "prelabels", "models", "exports")
#: The blob stores of a project (``Project.stores``), by name.
STORES = ("masks", "prelabels", "annotators")


_UNSTARTED = (Status.NEW, Status.PRELABELED)
IMAGE_COLUMNS = (
    "id, name, path, status, content_hash, rows, cols, size_bytes, copied, "
    "params_json IS NOT NULL, updated_utc"
)


class _ImageLocks:
    """One lock per image id: staging files of one image is serialized in this process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[int, threading.RLock] = {}

    def __call__(self, image_id: int) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(int(image_id), threading.RLock())


class Catalog(RoughMixin, AssistMixin, AnnotatorsMixin, ExclusionMixin):
    """A project's catalog and blob stores: what every service builds on.

    :class:`core.project.Project` (:mod:`core.project.project`) adds import, export and
    repair on top; services (:mod:`~core.project.importer`, :mod:`~core.project.export`,
    :mod:`~core.project.repair`, :mod:`~core.project.workflow`) take a Catalog and use
    its public methods only, so this module imports none of them.

    Parameters
    ----------
    root : Path
        The project folder (files: images, exports, models; with a SQLite catalog also
        the mask files).
    db : Database
        The catalog (:class:`core.project.db.SQLiteDatabase` for :meth:`open`).
    user : str
        Who works on it (history, mask owners).
    lock : WriterLock, optional
        Released by :meth:`close`.
    stores : callable, optional
        ``stores(name) -> BlobStore`` for each of :data:`STORES`; files under ``root`` by
        default (:class:`core.project.masks.FileStore`).
    """

    def __init__(
        self,
        root: Path,
        db: Database,
        *,
        user: str,
        lock: WriterLock | None = None,
        stores: Callable[[str], BlobStore] | None = None,
    ) -> None:
        self.root = root
        self.db = db
        self.read_only = db.read_only
        self.user = user
        self._writer_lock = lock
        self._close_lock = threading.Lock()
        make = stores or (lambda name: FileStore(root, name))
        #: Blob stores by name (:data:`STORES`): rough masks, pre-labels, kept annotations.
        self.stores: dict[str, BlobStore] = {name: make(name) for name in STORES}
        self._image_locks = _ImageLocks()
        self.recovered: list[str] = []

    # ------------------------------------------------------------------ open / close

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        *,
        name: str | None = None,
        params: GTParams | None = None,
        user: str | None = None,
    ) -> Self:
        """Make a new project in ``folder`` (created if needed; must hold no project).

        Parameters
        ----------
        folder : path or str
            New or empty folder, or one without a catalog; or a PostgreSQL URL of an
            empty database for a team project (docs/team.md).
        name : str, optional
            Display name; defaults to the folder name.
        params : GTParams, optional
            Project-default GT parameters; the GT engine's defaults if omitted.
        user : str, optional
            Who works on it (history); ``$SKINTRACE_USER`` or the login name if omitted
            (a team project: the PostgreSQL role).
        root : path, optional
            A team project's image root on this machine (remembered; default: here).
        """
        from core.gt.engine import GTParams

        root = Path(folder).absolute()
        catalog = root / CATALOG
        if catalog.exists():
            raise ProjectError(f"{root} already holds a project; open it instead")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} exists and is not a folder")
        params = params or GTParams()
        try:
            root.mkdir(parents=True, exist_ok=True)
            for sub in SUBFOLDERS:
                (root / sub).mkdir(exist_ok=True)
            # Build the catalog under a temp name, then rename: a crash never leaves a
            # half-made catalog.sqlite behind.
            fd, tmp_name = tempfile.mkstemp(prefix=f".{CATALOG}.", suffix=".creating", dir=root)
            os.close(fd)
            os.chmod(tmp_name, default_mode())  # mkstemp's 0600 would lock colleagues out
        except OSError as exc:
            if is_disk_full(exc):
                kept = "no project was made there"
                raise disk_full_error(root, exc, what="a new project", kept=kept) from None
            raise
        tmp = Path(tmp_name)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
        except BaseException:
            tmp.unlink()
            raise
        try:
            migrate(conn, catalog=str(tmp))
            meta = project_meta(name or root.name, params, user=user or current_user())
            with conn:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
        except BaseException as exc:
            conn.close()
            tmp.unlink()
            if isinstance(exc, sqlite3.Error):
                raise sql_error(catalog, exc) from None
            raise
        conn.close()
        try:
            # link() never replaces: of two processes creating at once, one wins.
            os.link(tmp, catalog)
        except FileExistsError:
            raise ProjectError(f"{root} already holds a project; open it instead") from None
        except OSError:  # no hard links on this file system (FAT, some shares)
            if catalog.exists():
                raise ProjectError(f"{root} already holds a project; open it instead") from None
            os.replace(tmp, catalog)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return cls.open(root, user=user)

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        read_only: bool = False,
        user: str | None = None,
    ) -> Self:
        """Open an existing project: a folder, or a team project's PostgreSQL URL.

        A writable open takes the project's writer lock; if another process holds it,
        :class:`~core.errors.ProjectLockedError` says who, and ``read_only=True`` still
        works. A damaged catalog raises ProjectError naming it; it is never recreated.
        A team project (``postgresql://...``, docs/team.md) has no writer lock; ``root``
        is its image root on this machine (remembered; default: the remembered one).
        """
        root = Path(folder).absolute()
        catalog = root / CATALOG
        if not catalog.is_file():
            raise ProjectError(f"{root} is not a SkinTrace project: {CATALOG} is missing")
        user = user or current_user()
        lock = None if read_only else WriterLock(root, user=user)
        try:
            db = SQLiteDatabase(catalog, read_only=read_only)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        return cls.attach(root, db, user=user, lock=lock)

    @classmethod
    def attach(
        cls,
        root: Path,
        db: Database,
        *,
        user: str,
        lock: WriterLock | None = None,
        stores: Callable[[str], BlobStore] | None = None,
    ) -> Self:
        """A project over an open catalog of any backend: schema checked (and upgraded
        when writable), interrupted saves settled. Closes ``db`` and ``lock`` on failure."""
        try:
            project = cls(root, db, user=user, lock=lock, stores=stores)
        except BaseException:
            db.close()
            if lock is not None:
                lock.release()
            raise
        try:
            project._recover()
        except BaseException:
            project.close()
            raise
        return project

    def close(self) -> None:
        """Close the catalog and release the writer lock (idempotent)."""
        with self._close_lock:
            self.db.close()
            if self._writer_lock is not None:
                self._writer_lock.release()
                self._writer_lock = None

    @property
    def closed(self) -> bool:
        return self.db.closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writable"
        return (
            f"<{type(self).__name__} {str(self.root)!r} {mode}{' closed' if self.closed else ''}>"
        )

    @property
    def name(self) -> str:
        return self.meta("name")

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG

    # ------------------------------------------------------------------ shared helpers

    def check_writable(self) -> None:
        """ProjectError if the project is open read-only."""
        if self.read_only:
            raise ProjectError(f"project {self.root} is open read-only; reopen it for writing")

    def editing(self, image_id: int) -> threading.RLock:
        """The lock that serializes staging one image's files in this process.

        Saves of the same image (rough masks, pre-labels, repair) hold it while they
        encode, stage and commit; reads never take it.
        """
        return self._image_locks(image_id)

    def meta(self, key: str) -> str:
        """A project metadata value (``name``, ``format``, ``params_json`` ...)."""
        with self.db.read() as tx:
            value = tx.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        if value is None:
            raise ProjectError(f"{self.db.describe} has no {key!r}; the catalog is incomplete")
        return str(value)

    @property
    def is_team(self) -> bool:
        """A team project: the catalog is in PostgreSQL (docs/team.md)."""
        return self.db.dialect == "postgresql"

    def now_and_user(self) -> tuple[str, str]:
        """The UTC time stamp and user name a change is recorded with."""
        return utc_now(), self.user

    def _recover(self) -> None:
        if self.db.dialect != "sqlite":
            # PostgreSQL checked its schema on connect; blobs commit with their rows.
            if self.meta("format") != PROJECT_FORMAT:
                raise ProjectError(f"{self.db.describe} is not a SkinTrace project catalog")
            return
        version = self.db.schema_version()
        if self.read_only:
            if version > SCHEMA_VERSION:
                raise newer_schema_error(self.catalog_path, version)
            if version < SCHEMA_VERSION:
                raise ProjectError(
                    f"{self.catalog_path} has an older schema ({version}); "
                    "open the project once for writing to upgrade it"
                )
        else:
            self.db.upgrade()
        if self.meta("format") != PROJECT_FORMAT:
            raise ProjectError(f"{self.catalog_path} is not a SkinTrace project catalog")
        if self.read_only:
            return
        for table in ("masks", "prelabels"):
            rows = self.db.rows(f"SELECT image_id, class, sha256 FROM {table}")
            extra = committed_exclusions(self.db) if table == "masks" else {}
            committed = {(i, c): h for i, c, h in rows} | extra
            self.recovered += self.stores[table].recover(committed)
        kept = committed_annotator_files(self.db)
        self.recovered += self.stores["annotators"].recover(kept)

    def image_record(self, row: Sequence[Any]) -> ImageRecord:
        """An :class:`ImageRecord` from a row of :data:`IMAGE_COLUMNS`."""
        iid, name, path, status, chash, rows, cols, size, copied, override, updated = row
        p = Path(path)
        return ImageRecord(
            id=iid,
            name=name,
            path=p if p.is_absolute() else self.root / p,
            status=Status(status),
            content_hash=chash,
            rows=rows,
            cols=cols,
            size_bytes=size,
            copied=bool(copied),
            has_params_override=bool(override),
            updated=updated,
        )

    # ------------------------------------------------------------------ images

    def images(
        self,
        *,
        status: Status | str | Iterable[Status | str] | None = None,
        search: str | None = None,
    ) -> list[ImageRecord]:
        """Images in import order, optionally filtered by status and a name substring."""
        sql = f"SELECT {IMAGE_COLUMNS} FROM images"
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            wanted = [status] if isinstance(status, str | Status) else list(status)
            values = [Status.parse(s).value for s in wanted]
            where.append(f"status IN ({', '.join('?' * len(values))})")
            args += values
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("name LIKE ? ESCAPE '\\'")
            args.append(f"%{escaped}%")
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self.image_record(r) for r in self.db.rows(sql + " ORDER BY id", args)]

    def image(self, image_id: int, *, tx: Tx | None = None) -> ImageRecord:
        """One image's record (read in ``tx`` if given); ProjectError if the id is unknown.

        In a write transaction on PostgreSQL the row stays locked until the commit, so a
        check made on it (status, mask revisions) holds against other workstations; a
        SQLite writer is alone anyway.
        """
        sql = f"SELECT {IMAGE_COLUMNS} FROM images WHERE id = ?"
        if tx is not None and tx.writable and self.is_team:
            sql += " FOR UPDATE"
        if tx is not None:
            row = tx.one(sql, (image_id,))
        else:
            with self.db.read() as reader:
                row = reader.one(sql, (image_id,))
        if row is None:
            raise ProjectError(f"no image with id {image_id} in project {self.name!r}")
        return self.image_record(row)

    def image_path(self, image_id: int) -> Path:
        return self.image(image_id).path

    def __len__(self) -> int:
        return int(self.db.rows("SELECT COUNT(*) FROM images")[0][0])

    def counts(self) -> dict[Status, int]:
        """Number of images per status (every status present, zeros included)."""
        found = dict(self.db.rows("SELECT status, COUNT(*) FROM images GROUP BY status"))
        return {s: int(found.get(s.value, 0)) for s in Status}

    # ------------------------------------------------------------------ status workflow

    def set_status(self, image_id: int, status: Status | str, *, comment: str = "") -> None:
        """Move an image to ``status``; ProjectError if the workflow does not allow it.

        :mod:`core.project.workflow` has the named moves (submit, accept, reject ...)
        that also say what changed.
        """
        target = Status.parse(status)
        with self.db.transaction() as tx:
            current = self.image(image_id, tx=tx).status
            check_transition(current, target, image=f"image {image_id}")
            self.move(tx, image_id, current, target, comment)

    def move(
        self, tx: Tx, image_id: int, current: Status | None, target: Status, comment: str
    ) -> HistoryEntry:
        """Inside ``tx``: set the status and write its history row (no transition check)."""
        now, user = self.now_and_user()
        return record_move(tx, image_id, current, target, user=user, comment=comment, now=now)

    def history(self, image_id: int | None = None) -> list[HistoryEntry]:
        """Status changes, oldest first, of one image or of the whole project."""
        sql = "SELECT image_id, from_status, to_status, user_name, time_utc, comment FROM history"
        args: tuple = ()
        if image_id is not None:
            self.image(image_id)
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        return [
            HistoryEntry(i, Status(f) if f else None, Status(t), u, tm, c)
            for i, f, t, u, tm, c in self.db.rows(sql + " ORDER BY id", args)
        ]

    # ------------------------------------------------------------------ GT parameters

    def params(self, image_id: int | None = None) -> GTParams:
        """Effective GT parameters: the image's override, else the project default."""
        from core.gt.engine import GTParams

        with self.db.read() as tx:
            raw = None
            if image_id is not None:
                row = tx.one("SELECT params_json FROM images WHERE id = ?", (image_id,))
                if row is None:
                    raise ProjectError(f"no image with id {image_id} in project {self.name!r}")
                raw = row[0]
            if raw is None:
                raw = tx.scalar("SELECT value FROM meta WHERE key = 'params_json'")
        if raw is None:
            raise ProjectError(
                f"{self.db.describe} has no 'params_json'; the catalog is incomplete"
            )
        where = "project GT parameters" if image_id is None else f"image #{image_id} GT parameters"
        return GTParams.from_dict(loads_bounded(str(raw), what=where, error=ProjectError))

    def set_params(self, params: GTParams, *, image_id: int | None = None) -> None:
        """Set the project default (``image_id=None``) or one image's override."""
        text = json.dumps(params.to_dict())
        with self.db.transaction() as tx:
            if image_id is None:
                tx.execute("UPDATE meta SET value = ? WHERE key = 'params_json'", (text,))
            else:
                self.image(image_id, tx=tx)
                tx.execute(
                    "UPDATE images SET params_json = ?, updated_utc = ? WHERE id = ?",
                    (text, utc_now(), image_id),
                )

    def clear_params_override(self, image_id: int) -> None:
        """Make an image use the project default again."""
        with self.db.transaction() as tx:
            self.image(image_id, tx=tx)
            tx.execute("UPDATE images SET params_json = NULL WHERE id = ?", (image_id,))

    def missing_images(self) -> list[ImageRecord]:
        """Images whose file is no longer where the catalog says (moved or deleted)."""
        return [r for r in self.images() if not r.path.is_file()]


def project_meta(name: str, params: GTParams, *, user: str) -> dict[str, str]:
    """The ``meta`` rows of a new project (any backend)."""
    return {
        "format": PROJECT_FORMAT,
        "name": name,
        "created_utc": utc_now(),
        "created_by": user,
        "params_json": json.dumps(params.to_dict()),
    }
