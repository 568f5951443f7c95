"""Project storage for model-assisted annotation: pre-labels, checkpoints, settings.

Mixed into :class:`core.project.Project` (schema migration 2). Pre-label maps are
uint8 PNG files under ``prelabels/<image_id>/<class>.png``, saved with the same
crash-safe protocol as rough masks (:mod:`core.project.masks`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.bounded import loads_bounded
from core.classes import CLASSES
from core.errors import ProjectError
from core.project.masks import (
    decode_gray,
    encode_map,
    read_consistent,
    sha256_bytes,
)
from core.project.status import Status
from core.schemas import validate_metrics

if TYPE_CHECKING:
    import sqlite3
    import threading
    from collections.abc import Iterable
    from contextlib import AbstractContextManager

    from core.project.masks import FileStore

_CURRENT_MODEL = "model.current"


@dataclass(frozen=True)
class ModelRecord:
    """A checkpoint registered with the project."""

    id: int
    #: Absolute path of the checkpoint folder.
    path: Path
    metrics: Mapping[str, Any]
    note: str
    added: str


class AssistMixin:
    """Pre-labels, model history and a key-value settings store."""

    root: Path
    read_only: bool
    _prelabels: FileStore
    _lock: threading.RLock

    if TYPE_CHECKING:

        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _check_writable(self) -> None: ...
        def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]: ...
        def image(self, image_id: int) -> Any: ...
        def _move(self, db: Any, image_id: int, current: Any, target: Any, c: str) -> None: ...
        def _now_and_user(self) -> tuple[str, str]: ...

    # ------------------------------------------------------------------ pre-labels

    def save_prelabel(self, image_id: int, maps: Mapping[str, np.ndarray], *, source: str) -> None:
        """Store a pre-label: a ``(M, N) uint8`` map per class and what made it.

        Replaces the image's previous pre-label. A new image becomes "pre-labeled".
        """
        if not source:
            raise ProjectError("a pre-label needs a source (model checkpoint or baseline name)")
        if set(maps) != set(CLASSES):
            raise ProjectError(f"a pre-label needs maps for {', '.join(CLASSES)}")
        with self._lock:
            self._check_writable()
            rec = self.image(image_id)
            staged: dict[str, str] = {}
            with self._prelabels.saving(image_id) as stage:
                for c in CLASSES:
                    arr = np.asarray(maps[c])
                    if arr.shape != (rec.rows, rec.cols) or arr.dtype != np.uint8:
                        raise ProjectError(
                            f"pre-label {c} map must be {(rec.rows, rec.cols)} uint8, "
                            f"got {arr.shape} {arr.dtype}"
                        )
                    data = encode_map(arr)
                    stage(c, data)
                    staged[c] = sha256_bytes(data)
                with self._tx() as db:
                    now, _ = self._now_and_user()
                    db.executemany(
                        "INSERT OR REPLACE INTO prelabels(image_id, class, sha256, source, "
                        "created_utc) VALUES (?, ?, ?, ?, ?)",
                        [(image_id, c, h, source, now) for c, h in staged.items()],
                    )
                    if rec.status is Status.NEW:
                        self._move(db, image_id, rec.status, Status.PRELABELED, f"by {source}")

    def load_prelabel(self, image_id: int) -> tuple[dict[str, np.ndarray], str] | None:
        """The image's pre-label maps and source, or None if it has none.

        Raises MaskFileError naming the file if a pre-label file is missing or damaged.
        """
        sql = "SELECT class, sha256, source FROM prelabels WHERE image_id = ? ORDER BY class"

        def read(rows: list[tuple]) -> tuple[dict[str, np.ndarray], str] | None:
            if not rows:
                return None
            maps = {
                c: decode_gray(
                    self._prelabels.read(image_id, c, digest),
                    name=self._prelabels.relpath(image_id, c),
                )
                for c, digest, _ in rows
            }
            return maps, rows[0][2]

        with self._lock:
            self.image(image_id)
            return read_consistent(
                lambda: self._query(sql, (image_id,)), read, retry=self.read_only
            )

    def prelabel_sources(self, image_id: int | None = None) -> dict[int, str]:
        """Source of each stored pre-label by image id (of one image with ``image_id``)."""
        sql = "SELECT DISTINCT image_id, source FROM prelabels"
        args: tuple[int, ...] = ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        return {int(i): str(source) for i, source in self._query(sql, args)}

    def clear_prelabel(self, image_id: int) -> None:
        """Forget an image's pre-label (the files are removed after the catalog commit)."""
        with self._tx() as db:
            db.execute("DELETE FROM prelabels WHERE image_id = ?", (image_id,))
        for c in CLASSES:
            self._prelabels.remove(image_id, c)

    # ------------------------------------------------------------------ models

    def add_model(
        self, path: str | os.PathLike[str], metrics: Mapping[str, Any], *, note: str = ""
    ) -> int:
        """Register a checkpoint folder with its evaluation metrics; return its id.

        A folder inside the project is stored relative to it, so the project can move.
        """
        p = Path(path).absolute()
        try:
            stored = p.relative_to(self.root).as_posix()
        except ValueError:
            stored = str(p)
        try:
            text = json.dumps(dict(metrics), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"model metrics must be plain JSON numbers/strings: {exc}") from None
        with self._tx() as db:
            now, _ = self._now_and_user()
            cur = db.execute(
                "INSERT INTO models(path, metrics_json, note, added_utc) VALUES (?, ?, ?, ?)",
                (stored, text, note, now),
            )
            return int(cur.lastrowid or 0)

    def models(self) -> list[ModelRecord]:
        """Registered checkpoints, oldest first."""
        rows = self._query("SELECT id, path, metrics_json, note, added_utc FROM models ORDER BY id")
        return [self._model(r) for r in rows]

    def _model(self, row: tuple) -> ModelRecord:
        mid, path, metrics, note, added = row
        p = Path(str(path))
        try:  # the row may come from another writer: validated, never trusted
            values = validate_metrics(
                loads_bounded(str(metrics), what=f"model #{mid} metrics", error=ProjectError),
                what=f"model #{mid} metrics",
                error=ProjectError,
            )
        except ProjectError as exc:
            values, note = {}, f"{note} [{exc}]".strip()  # listed, never used as numbers
        return ModelRecord(
            int(mid), p if p.is_absolute() else self.root / p, values, str(note), str(added)
        )

    def current_model(self) -> ModelRecord | None:
        """The checkpoint chosen for pre-labeling, or None."""
        mid = self.get_setting(_CURRENT_MODEL)
        if mid is None:
            return None
        if type(mid) is not int:
            raise ProjectError(f"project setting {_CURRENT_MODEL!r} is {mid!r}, not a model id")
        rows = self._query(
            "SELECT id, path, metrics_json, note, added_utc FROM models WHERE id = ?", (mid,)
        )
        return self._model(rows[0]) if rows else None

    def set_current_model(self, model_id: int | None) -> None:
        """Choose the checkpoint for pre-labeling (None: no model)."""
        if model_id is not None and not self._query(
            "SELECT 1 FROM models WHERE id = ?", (model_id,)
        ):
            raise ProjectError(f"no model with id {model_id} in this project")
        self.set_setting(_CURRENT_MODEL, model_id)

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A project setting (any JSON value), or ``default``."""
        rows = self._query("SELECT value_json FROM settings WHERE key = ?", (key,))
        return _setting_value(key, rows[0][0]) if rows else default

    def settings(self, prefix: str = "") -> dict[str, Any]:
        """Every setting whose key starts with ``prefix`` (case-sensitive), in one query."""
        rows = self._query(
            "SELECT key, value_json FROM settings WHERE substr(key, 1, ?) = ?",
            (len(prefix), prefix),
        )
        return {str(key): _setting_value(key, text) for key, text in rows}

    def set_setting(self, key: str, value: Any) -> None:
        """Store a project setting; ``value`` must be JSON-serializable."""
        if not key:
            raise ProjectError("a setting needs a non-empty key")
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"setting {key!r} must be a JSON value: {exc}") from None
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO settings(key, value_json) VALUES (?, ?)", (key, text)
            )


def _setting_value(key: str, text: Any) -> Any:
    """A settings row read back: bounded JSON (size and depth), else ProjectError."""
    return loads_bounded(str(text), what=f"project setting {key!r}", error=ProjectError)
