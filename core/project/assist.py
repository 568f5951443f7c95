"""Project storage for model-assisted annotation: pre-labels, their per-image state, settings.

Mixed into :class:`core.project.Project` (schema migrations 2 and 4). Pre-label maps are
uint8 PNG blobs (``prelabels/<image_id>/<class>.png`` in a file project), saved with the
same crash-safe protocol as rough masks (:mod:`core.project.masks`). The per-image
pre-label state (uncertainty and the source it was measured on, the source of a
rejected pre-label) is the ``prelabel_state`` table; models and the model log are in
:mod:`core.project.models`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.bounded import loads_bounded
from core.classes import CLASSES
from core.errors import ProjectError
from core.project.masks import decode_gray, encode_map, read_consistent, sha256_bytes
from core.project.models import ModelsMixin
from core.project.status import Status

if TYPE_CHECKING:
    from core.project.db import Tx

_UNSET: Any = object()


@dataclass(frozen=True)
class PrelabelState:
    """One image's row of ``prelabel_state``."""

    image_id: int
    #: The pre-label source the uncertainty was measured on.
    source: str | None
    uncertainty: float | None
    #: The source of the last pre-label a reviewer rejected on this image.
    rejected_source: str | None
    updated: str | None


class AssistMixin(ModelsMixin):
    """Pre-labels, their per-image state and a key-value settings store."""

    # ------------------------------------------------------------------ pre-labels

    def save_prelabel(
        self,
        image_id: int,
        maps: Mapping[str, np.ndarray],
        *,
        source: str,
        uncertainty: float | None = None,
    ) -> Status:
        """Store a pre-label: a ``(M, N) uint8`` map per class and what made it.

        Replaces the image's previous pre-label. A new image becomes "pre-labeled".
        ``uncertainty`` (:func:`core.assist.active.uncertainty`) is stored in the same
        transaction. Returns the image's status after the save.
        """
        if not source:
            raise ProjectError("a pre-label needs a source (model checkpoint or baseline name)")
        if set(maps) != set(CLASSES):
            raise ProjectError(f"a pre-label needs maps for {', '.join(CLASSES)}")
        self.check_writable()
        with self.editing(image_id):
            rec = self.image(image_id)
            staged: dict[str, str] = {}
            with self.stores["prelabels"].saving(image_id) as stage:
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
                with self.db.transaction() as tx:
                    stage.commit(tx)
                    now, _ = self.now_and_user()
                    tx.executemany(
                        "INSERT INTO prelabels(image_id, class, sha256, source, created_utc) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(image_id, class) DO UPDATE SET "
                        "sha256 = excluded.sha256, source = excluded.source, "
                        "created_utc = excluded.created_utc",
                        [(image_id, c, h, source, now) for c, h in staged.items()],
                    )
                    if uncertainty is not None:
                        self.set_prelabel_state(
                            image_id, source=source, uncertainty=uncertainty, tx=tx
                        )
                    status = self.image(image_id, tx=tx).status
                    if status is Status.NEW:
                        self.move(tx, image_id, status, Status.PRELABELED, f"by {source}")
                        status = Status.PRELABELED
        return status

    def load_prelabel(self, image_id: int) -> tuple[dict[str, np.ndarray], str] | None:
        """The image's pre-label maps and source, or None if it has none.

        Raises MaskFileError naming the file if a pre-label file is missing or damaged.
        """
        sql = "SELECT class, sha256, source FROM prelabels WHERE image_id = ? ORDER BY class"
        store = self.stores["prelabels"]

        def read(rows: list[tuple]) -> tuple[dict[str, np.ndarray], str] | None:
            if not rows:
                return None
            maps = {
                c: decode_gray(store.read(image_id, c, digest), name=store.relpath(image_id, c))
                for c, digest, _ in rows
            }
            return maps, rows[0][2]

        self.image(image_id)
        return read_consistent(lambda: self.db.rows(sql, (image_id,)), read, retry=True)

    def prelabel_sources(self, image_id: int | None = None) -> dict[int, str]:
        """Source of each stored pre-label by image id (of one image with ``image_id``)."""
        sql = "SELECT DISTINCT image_id, source FROM prelabels"
        args: tuple[int, ...] = ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        return {int(i): str(source) for i, source in self.db.rows(sql, args)}

    def clear_prelabel(self, image_id: int, *, tx: Tx | None = None) -> None:
        """Forget an image's pre-label; its files are removed after the commit.

        With ``tx`` the rows go in the caller's transaction, which then calls
        :meth:`remove_prelabel_files` after it commits.
        """
        if tx is not None:
            tx.execute("DELETE FROM prelabels WHERE image_id = ?", (image_id,))
            return
        with self.db.transaction() as own:
            own.execute("DELETE FROM prelabels WHERE image_id = ?", (image_id,))
        self.remove_prelabel_files(image_id)

    def remove_prelabel_files(self, image_id: int) -> None:
        """Remove the pre-label blobs of an image the catalog no longer lists."""
        for c in CLASSES:
            self.stores["prelabels"].remove(image_id, c)

    # ------------------------------------------------------------------ pre-label state

    def prelabel_state(self, image_id: int | None = None) -> dict[int, PrelabelState]:
        """Rows of ``prelabel_state`` by image id (one image's with ``image_id``), one query."""
        sql = (
            "SELECT image_id, source, uncertainty, rejected_source, updated_utc FROM prelabel_state"
        )
        args: tuple[int, ...] = ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        out = {}
        for iid, source, value, rejected, updated in self.db.rows(sql, args):
            uncertainty = None if value is None else float(value)
            out[int(iid)] = PrelabelState(int(iid), source, uncertainty, rejected, updated)
        return out

    def set_prelabel_state(
        self,
        image_id: int,
        *,
        source: str | None = _UNSET,
        uncertainty: float | None = _UNSET,
        rejected_source: str | None = _UNSET,
        tx: Tx | None = None,
    ) -> None:
        """Set some fields of an image's pre-label state (the others are kept).

        ``uncertainty`` goes with the ``source`` it was measured on. With ``tx``, in
        the caller's transaction.
        """
        fields = {
            k: v
            for k, v in (
                ("source", source),
                ("uncertainty", uncertainty),
                ("rejected_source", rejected_source),
            )
            if v is not _UNSET
        }
        if "uncertainty" in fields and fields["uncertainty"] is not None:
            fields["uncertainty"] = float(fields["uncertainty"])
        fields["updated_utc"] = self.now_and_user()[0]
        names = list(fields)
        sql = (
            f"INSERT INTO prelabel_state(image_id, {', '.join(names)}) "
            f"VALUES (?{', ?' * len(names)}) ON CONFLICT(image_id) DO UPDATE SET "
            + ", ".join(f"{n} = excluded.{n}" for n in names)
        )
        args = (image_id, *fields.values())
        if tx is not None:
            tx.execute(sql, args)
            return
        with self.db.transaction() as own:
            self.image(image_id, tx=own)
            own.execute(sql, args)

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A project setting (any JSON value), or ``default``."""
        rows = self.db.rows("SELECT value_json FROM settings WHERE key = ?", (key,))
        return _setting_value(key, rows[0][0]) if rows else default

    def settings(self, prefix: str = "") -> dict[str, Any]:
        """Every setting whose key starts with ``prefix`` (case-sensitive), in one query."""
        rows = self.db.rows(
            "SELECT key, value_json FROM settings WHERE substr(key, 1, ?) = ?",
            (len(prefix), prefix),
        )
        return {str(key): _setting_value(key, text) for key, text in rows}

    def set_setting(self, key: str, value: Any, *, tx: Tx | None = None) -> None:
        """Store a project setting; ``value`` must be JSON-serializable."""
        if not key:
            raise ProjectError("a setting needs a non-empty key")
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"setting {key!r} must be a JSON value: {exc}") from None
        sql = (
            "INSERT INTO settings(key, value_json) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json"
        )
        if tx is not None:
            tx.execute(sql, (key, text))
            return
        with self.db.transaction() as own:
            own.execute(sql, (key, text))


def _setting_value(key: str, text: Any) -> Any:
    """A settings row read back: bounded JSON (size and depth), else ProjectError."""
    return loads_bounded(str(text), what=f"project setting {key!r}", error=ProjectError)
