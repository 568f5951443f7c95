"""The :class:`Project`: a folder with a SQLite catalog, masks on disk and a status workflow.

Layout of a project folder::

    catalog.sqlite      the truth: images, mask hashes, statuses, history, parameters
    .skintrace.lock     writer lock (see :mod:`core.project.lock`)
    images/             images copied into the project
    masks/<id>/<class>.png      rough masks, 0/255 lossless PNG (the newest save)
    annotators/<id>/<key>.<class>.png  earlier annotators' rough masks (several annotators)
    prelabels/<id>/<class>.png  pre-label maps, uint8 PNG
    models/  exports/   checkpoints and datasets made from the project

Threading: one ``Project`` may be used from several threads (the GUI thread and one
background writer); every public method takes an internal lock, so calls are
serialized, and every multi-statement change is one transaction.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.atomic import default_mode, disk_full_error, is_disk_full
from core.bounded import loads_bounded
from core.classes import CLASSES, ClassName, check_class
from core.errors import ProjectError
from core.progress import Progress
from core.project.annotators import AnnotatorsMixin
from core.project.assist import AssistMixin
from core.project.exclusion import ExclusionMixin
from core.project.lock import WriterLock, current_user
from core.project.masks import (
    FileStore,
    MaskFileError,
    decode_gray,
    encode_mask,
    read_consistent,
    sha256_bytes,
)
from core.project.records import HistoryEntry, ImageRecord, utc_now
from core.project.schema import (
    SCHEMA_VERSION,
    connect,
    migrate,
    newer_schema_error,
    schema_version,
    sql_error,
)
from core.project.status import Status, check_transition

if TYPE_CHECKING:
    from core.gt import GTParams
    from core.project.importer import RelinkResult

CATALOG = "catalog.sqlite"
PROJECT_FORMAT = "skintrace-project"
SUBFOLDERS = ("images", "masks", "annotators", "prelabels", "models", "exports")


_UNSTARTED = (Status.NEW, Status.PRELABELED)
_IMAGE_COLUMNS = (
    "id, name, path, status, content_hash, rows, cols, size_bytes, copied, "
    "params_json IS NOT NULL, updated_utc"
)


class Project(AssistMixin, AnnotatorsMixin, ExclusionMixin):
    """An annotation project folder. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def __init__(
        self,
        root: Path,
        conn: sqlite3.Connection,
        *,
        read_only: bool,
        user: str,
        lock: WriterLock | None,
    ) -> None:
        self.root = root
        self.read_only = read_only
        self.user = user
        self._conn: sqlite3.Connection | None = conn
        self._writer_lock = lock
        self._lock = threading.RLock()
        self._masks = FileStore(root, "masks")
        self._prelabels = FileStore(root, "prelabels")
        self._annotators = FileStore(root, "annotators")
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
    ) -> Project:
        """Make a new project in ``folder`` (created if needed; must hold no project).

        Parameters
        ----------
        folder : path
            New or empty folder, or one without a catalog.
        name : str, optional
            Display name; defaults to the folder name.
        params : GTParams, optional
            Project-default GT parameters; the GT engine's defaults if omitted.
        user : str, optional
            Who works on it (history); ``$SKINTRACE_USER`` or the login name if omitted.
        """
        from core.gt import GTParams

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
            now = utc_now()
            meta = {
                "format": PROJECT_FORMAT,
                "name": name or root.name,
                "created_utc": now,
                "created_by": user or current_user(),
                "params_json": json.dumps(params.to_dict()),
            }
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
        cls, folder: str | os.PathLike[str], *, read_only: bool = False, user: str | None = None
    ) -> Project:
        """Open an existing project.

        A writable open takes the project's writer lock; if another process holds it,
        :class:`~core.errors.ProjectLockedError` says who, and ``read_only=True`` still
        works. A damaged catalog raises ProjectError naming it; it is never recreated.
        """
        root = Path(folder).absolute()
        catalog = root / CATALOG
        if not catalog.is_file():
            raise ProjectError(f"{root} is not a SkinTrace project: {CATALOG} is missing")
        user = user or current_user()
        lock = None if read_only else WriterLock(root, user=user)
        try:
            conn = connect(catalog, read_only=read_only)
            project = cls(root, conn, read_only=read_only, user=user, lock=lock)
        except BaseException:
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
        with self._lock:
            if self._conn is not None:
                if not self.read_only:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA optimize")
                self._conn.close()
                self._conn = None
            if self._writer_lock is not None:
                self._writer_lock.release()
                self._writer_lock = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writable"
        return f"<Project {str(self.root)!r} {mode}{' closed' if self.closed else ''}>"

    @property
    def name(self) -> str:
        return self._meta("name")

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG

    # ------------------------------------------------------------------ internals

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ProjectError(f"project {self.root} is closed")
        return self._conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, serialized with every other call on this Project."""
        with self._lock:
            self._check_writable()
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise sql_error(self.catalog_path, exc) from None
                raise

    def _check_writable(self) -> None:
        if self.read_only:
            raise ProjectError(f"project {self.root} is open read-only; reopen it for writing")

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as exc:
                raise sql_error(self.catalog_path, exc) from None

    def _meta(self, key: str) -> str:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        if not rows:
            raise ProjectError(f"{self.catalog_path} has no {key!r}; the catalog is incomplete")
        return rows[0][0]

    def _recover(self) -> None:
        with self._lock:
            version = schema_version(self._db)
            if self.read_only:
                if version > SCHEMA_VERSION:
                    raise newer_schema_error(self.catalog_path, version)
                if version < SCHEMA_VERSION:
                    raise ProjectError(
                        f"{self.catalog_path} has an older schema ({version}); "
                        "open the project once for writing to upgrade it"
                    )
            else:
                migrate(self._db, catalog=str(self.catalog_path))
            if self._meta("format") != PROJECT_FORMAT:
                raise ProjectError(f"{self.catalog_path} is not a SkinTrace project catalog")
            if self.read_only:
                return
            for store, table in ((self._masks, "masks"), (self._prelabels, "prelabels")):
                rows = self._query(f"SELECT image_id, class, sha256 FROM {table}")
                extra = self._committed_exclusions() if table == "masks" else {}
                self.recovered += store.recover({(i, c): h for i, c, h in rows} | extra)
            self.recovered += self._annotators.recover(self._committed_annotator_files())
            from core.project.repair import recover_images

            self.recovered += recover_images(self)

    def _now_and_user(self) -> tuple[str, str]:
        return utc_now(), self.user

    def _record(self, row: tuple) -> ImageRecord:
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
        sql = f"SELECT {_IMAGE_COLUMNS} FROM images"
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
        return [self._record(r) for r in self._query(sql + " ORDER BY id", args)]

    def image(self, image_id: int) -> ImageRecord:
        """One image's record; ProjectError if the id is unknown."""
        rows = self._query(f"SELECT {_IMAGE_COLUMNS} FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise ProjectError(f"no image with id {image_id} in project {self.name!r}")
        return self._record(rows[0])

    def image_path(self, image_id: int) -> Path:
        return self.image(image_id).path

    def __len__(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM images")[0][0])

    def counts(self) -> dict[Status, int]:
        """Number of images per status (every status present, zeros included)."""
        found = dict(self._query("SELECT status, COUNT(*) FROM images GROUP BY status"))
        return {s: int(found.get(s.value, 0)) for s in Status}

    # ------------------------------------------------------------------ status workflow

    def set_status(self, image_id: int, status: Status | str, *, comment: str = "") -> None:
        """Move an image to ``status``; ProjectError if the workflow does not allow it."""
        target = Status.parse(status)
        with self._tx() as db:
            current = self.image(image_id).status
            check_transition(current, target, image=f"image {image_id}")
            self._move(db, image_id, current, target, comment)

    def _move(
        self,
        db: sqlite3.Connection,
        image_id: int,
        current: Status | None,
        target: Status,
        comment: str,
    ) -> None:
        now, user = self._now_and_user()
        db.execute(
            "UPDATE images SET status = ?, updated_utc = ? WHERE id = ?",
            (target.value, now, image_id),
        )
        db.execute(
            "INSERT INTO history(image_id, from_status, to_status, user, time_utc, comment) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (image_id, current.value if current else None, target.value, user, now, comment),
        )

    def history(self, image_id: int | None = None) -> list[HistoryEntry]:
        """Status changes, oldest first, of one image or of the whole project."""
        sql = "SELECT image_id, from_status, to_status, user, time_utc, comment FROM history"
        args: tuple = ()
        if image_id is not None:
            self.image(image_id)
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        return [
            HistoryEntry(i, Status(f) if f else None, Status(t), u, tm, c)
            for i, f, t, u, tm, c in self._query(sql + " ORDER BY id", args)
        ]

    # ------------------------------------------------------------------ rough masks

    def load_rough(self, image_id: int) -> dict[str, np.ndarray]:
        """The image's rough masks, ``(M, N) bool`` per class (all False if never painted).

        Raises MaskFileError (a ProjectError) naming the file if a saved mask is
        missing, damaged or changed outside SkinTrace; other images are unaffected.
        """
        sql = "SELECT class, sha256 FROM masks WHERE image_id = ?"
        with self._lock:
            rec = self.image(image_id)
            return read_consistent(
                lambda: dict(self._query(sql, (image_id,))),
                lambda saved: self._read_masks(rec, saved),
                retry=self.read_only,
            )

    def _read_masks(self, rec: ImageRecord, saved: Mapping[str, str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for c in CLASSES:
            if c not in saved:
                out[c] = np.zeros((rec.rows, rec.cols), bool)
                continue
            rel = self._masks.relpath(rec.id, c)
            arr = decode_gray(self._masks.read(rec.id, c, saved[c]), name=rel)
            if arr.shape != (rec.rows, rec.cols):
                raise MaskFileError(f"{rel} is {arr.shape}, the image is {(rec.rows, rec.cols)}")
            out[c] = arr != 0
        return out

    def save_rough(
        self,
        image_id: int,
        masks: Mapping[ClassName, np.ndarray] | Mapping[str, np.ndarray],
        *,
        comment: str = "",
    ) -> None:
        """Save rough masks (any subset of the classes) atomically with the catalog.

        Unchanged classes are not rewritten. Saving a new or pre-labeled image moves it
        to "in progress" (recorded in the history).
        """
        with self._lock:
            self._check_writable()
            rec = self.image(image_id)
            staged: dict[str, tuple[str, int]] = {}
            current = dict(
                self._query("SELECT class, sha256 FROM masks WHERE image_id = ?", (image_id,))
            )
            with (
                self._masks.saving(image_id) as stage,
                self._annotators.saving(image_id) as keep,
            ):
                masks, excluded = self._take_exclusion(image_id, masks, rec, stage)
                for c, mask in masks.items():
                    check_class(c)
                    arr = np.asarray(mask)
                    if arr.shape != (rec.rows, rec.cols):
                        raise ProjectError(
                            f"{c} mask is {arr.shape}; image {image_id} is {(rec.rows, rec.cols)}"
                        )
                    data = encode_mask(arr)
                    digest = sha256_bytes(data)
                    if current.get(c) == digest:
                        continue
                    stage(c, data)
                    staged[c] = (digest, int(np.count_nonzero(arr)))
                if not (staged or excluded) and rec.status not in _UNSTARTED:
                    return
                # Another annotator's version of a class being replaced is kept.
                preserved = self._preserve_previous(image_id, staged, keep)
                with self._tx() as db:
                    now, user = self._now_and_user()
                    self._record_preserved(db, image_id, preserved)
                    self._record_exclusion(db, image_id, excluded, now, user)
                    for c, (digest, painted) in staged.items():
                        db.execute(
                            "INSERT INTO masks(image_id, class, sha256, painted, revision, "
                            "saved_utc, user) VALUES (?, ?, ?, ?, 1, ?, ?) "
                            "ON CONFLICT(image_id, class) DO UPDATE SET sha256 = excluded.sha256, "
                            "painted = excluded.painted, revision = revision + 1, "
                            "saved_utc = excluded.saved_utc, user = excluded.user",
                            (image_id, c, digest, painted, now, user),
                        )
                    db.execute("UPDATE images SET updated_utc = ? WHERE id = ?", (now, image_id))
                    if rec.status in (Status.NEW, Status.PRELABELED):
                        self._move(
                            db,
                            image_id,
                            rec.status,
                            Status.IN_PROGRESS,
                            comment or "rough masks saved",
                        )

    def mask_revisions(self, image_id: int) -> dict[str, int]:
        """How many times each class's rough mask was saved (0 = never)."""
        found = dict(
            self._query("SELECT class, revision FROM masks WHERE image_id = ?", (image_id,))
        )
        return {c: int(found.get(c, 0)) for c in CLASSES}

    # ------------------------------------------------------------------ GT parameters

    def params(self, image_id: int | None = None) -> GTParams:
        """Effective GT parameters: the image's override, else the project default."""
        from core.gt import GTParams

        raw = None
        if image_id is not None:
            self.image(image_id)
            raw = self._query("SELECT params_json FROM images WHERE id = ?", (image_id,))[0][0]
        if raw is None:
            raw = self._meta("params_json")
        where = "project GT parameters" if image_id is None else f"image #{image_id} GT parameters"
        return GTParams.from_dict(loads_bounded(str(raw), what=where, error=ProjectError))

    def set_params(self, params: GTParams, *, image_id: int | None = None) -> None:
        """Set the project default (``image_id=None``) or one image's override."""
        text = json.dumps(params.to_dict())
        with self._tx() as db:
            if image_id is None:
                db.execute("UPDATE meta SET value = ? WHERE key = 'params_json'", (text,))
            else:
                self.image(image_id)
                db.execute(
                    "UPDATE images SET params_json = ?, updated_utc = ? WHERE id = ?",
                    (text, utc_now(), image_id),
                )

    def clear_params_override(self, image_id: int) -> None:
        """Make an image use the project default again."""
        with self._tx() as db:
            self.image(image_id)
            db.execute("UPDATE images SET params_json = NULL WHERE id = ?", (image_id,))

    # ------------------------------------------------------------------ import, files

    def import_images(self, folder: str | os.PathLike[str], **options: Any) -> Iterator[Progress]:
        """Import a folder recursively; see :func:`core.project.importer.import_images`."""
        from core.project.importer import import_images

        return import_images(self, folder, **options)

    def export(self, out: str | os.PathLike[str], **options: Any) -> Iterator[Progress]:
        """Export a GT dataset; see :func:`core.project.export.export_project`."""
        from core.project.export import export_project

        return export_project(self, out, **options)

    def missing_images(self) -> list[ImageRecord]:
        """Images whose file is no longer where the catalog says (moved or deleted)."""
        return [r for r in self.images() if not r.path.is_file()]

    def changed_images(self, *, deep: bool = False) -> list[ImageRecord]:
        """Images whose file differs from the one imported (size; with ``deep``, hash)."""
        from core.project.importer import changed_images

        return changed_images(self, deep=deep)

    def relink(
        self, target: str | os.PathLike[str], *, image_id: int | None = None
    ) -> RelinkResult:
        """Point missing images at their new location; see :func:`core.project.importer.relink`."""
        from core.project.importer import relink

        return relink(self, target, image_id=image_id)
