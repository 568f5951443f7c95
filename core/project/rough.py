"""Rough masks of an image: loading, the crash-safe save, optimistic concurrency.

Mixed into :class:`core.project.Project`. A save encodes and stages the PNG files
(:mod:`core.project.masks`) outside the write lock and holds :meth:`Database.transaction
<core.project.db.Database.transaction>` only to commit, so reads (the image list, GT
parameters) never wait for a large image's save.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.classes import CLASSES, ClassName, check_class
from core.errors import ProjectError
from core.project.annotators import preserve_previous, record_preserved
from core.project.exclusion import record_exclusion, take_exclusion
from core.project.host import CatalogHost
from core.project.masks import (
    MaskFileError,
    decode_gray,
    encode_mask,
    read_consistent,
    sha256_bytes,
)
from core.project.records import ImageRecord, StaleSaveError
from core.project.status import Status

if TYPE_CHECKING:
    pass

_UNSTARTED = (Status.NEW, Status.PRELABELED)


class RoughMixin(CatalogHost):
    """load_rough / save_rough / mask_revisions."""

    def load_rough(self, image_id: int) -> dict[str, np.ndarray]:
        """The image's rough masks, ``(M, N) bool`` per class (all False if never painted).

        Raises MaskFileError (a ProjectError) naming the file if a saved mask is
        missing, damaged or changed outside SkinTrace; other images are unaffected.
        """
        sql = "SELECT class, sha256 FROM masks WHERE image_id = ?"
        rec = self.image(image_id)
        return read_consistent(
            lambda: dict(self.db.rows(sql, (image_id,))),
            lambda saved: self._read_masks(rec, saved),
            retry=True,  # a save may be installing its files right now
        )

    def _read_masks(self, rec: ImageRecord, saved: Mapping[str, str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        store = self.stores["masks"]
        for c in CLASSES:
            if c not in saved:
                out[c] = np.zeros((rec.rows, rec.cols), bool)
                continue
            rel = store.relpath(rec.id, c)
            arr = decode_gray(store.read(rec.id, c, saved[c]), name=rel)
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
        base_revisions: Mapping[str, int] | None = None,
    ) -> None:
        """Save rough masks (any subset of the classes) atomically with the catalog.

        Unchanged classes are not rewritten. Saving a new or pre-labeled image moves it
        to "in progress" (recorded in the history). The PNGs are encoded and staged
        before the write transaction, which is held only to commit.

        Parameters
        ----------
        base_revisions : mapping, optional
            :meth:`mask_revisions` when the masks were loaded. A class in ``masks``
            whose stored revision differs (someone saved it since) refuses the whole
            save with :class:`StaleSaveError`; nothing is written.
        """
        self.check_writable()
        with self.editing(image_id):
            rec = self.image(image_id)
            sql = (
                "SELECT class, sha256, revision, user_name, saved_utc FROM masks WHERE image_id = ?"
            )
            rows = self.db.rows(sql, (image_id,))
            if base_revisions is not None:
                _check_base(image_id, masks, base_revisions, rows)
            current = {c: sha for c, sha, *_ in rows}
            staged: dict[str, tuple[str, int]] = {}
            mask_store, kept_store = self.stores["masks"], self.stores["annotators"]
            with mask_store.saving(image_id) as stage, kept_store.saving(image_id) as keep:
                masks, excluded = take_exclusion(
                    self.db, image_id, masks, (rec.rows, rec.cols), stage
                )
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
                try:
                    preserved = preserve_previous(
                        self.db, self.stores["masks"], self.user, image_id, staged, keep
                    )
                except MaskFileError:
                    if base_revisions is None:
                        raise
                    # the mask changed while it was read: someone saved meanwhile
                    _check_base(image_id, masks, base_revisions, self.db.rows(sql, (image_id,)))
                    raise
                with self.db.transaction() as tx:
                    # PostgreSQL: locks the image's row, so a concurrent save of the same
                    # image waits here and the check below sees its commit.
                    self.image(image_id, tx=tx)
                    if base_revisions is not None:
                        _check_base(image_id, masks, base_revisions, tx.query(sql, (image_id,)))
                    stage.commit(tx)
                    keep.commit(tx)
                    now, user = self.now_and_user()
                    record_preserved(tx, image_id, preserved)
                    record_exclusion(tx, image_id, excluded, now, user)
                    tx.executemany(
                        "INSERT INTO masks(image_id, class, sha256, painted, revision, "
                        "saved_utc, user_name) VALUES (?, ?, ?, ?, 1, ?, ?) "
                        "ON CONFLICT(image_id, class) DO UPDATE SET sha256 = excluded.sha256, "
                        "painted = excluded.painted, revision = masks.revision + 1, "
                        "saved_utc = excluded.saved_utc, user_name = excluded.user_name",
                        [(image_id, c, d, px, now, user) for c, (d, px) in staged.items()],
                    )
                    tx.execute("UPDATE images SET updated_utc = ? WHERE id = ?", (now, image_id))
                    status = Status(
                        tx.scalar("SELECT status FROM images WHERE id = ?", (image_id,))
                    )
                    if status in _UNSTARTED:
                        note = comment or "rough masks saved"
                        self.move(tx, image_id, status, Status.IN_PROGRESS, note)

    def mask_revisions(self, image_id: int) -> dict[str, int]:
        """How many times each class's rough mask was saved (0 = never): the
        ``base_revisions`` to give :meth:`save_rough` for a save of what was loaded now."""
        found = dict(
            self.db.rows("SELECT class, revision FROM masks WHERE image_id = ?", (image_id,))
        )
        return {c: int(found.get(c, 0)) for c in CLASSES}


def _check_base(
    image_id: int,
    masks: Mapping[Any, Any],
    base: Mapping[str, int],
    rows: Iterable[Sequence[Any]],
) -> None:
    """StaleSaveError if a class being saved was saved by someone since ``base``."""
    for cls, _sha, revision, user, saved in rows:
        if cls in masks and cls in base and int(revision) != int(base[cls]):
            raise StaleSaveError(image_id, cls, user=str(user), saved_utc=str(saved))
