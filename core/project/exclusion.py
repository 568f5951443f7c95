"""Exclusion masks (hair, beard, glasses): their area is removed from both classes' GT.

Mixed into :class:`core.project.Project` (schema migration 3). The mask is stored as
``masks/<image_id>/exclude.png`` (0/255 PNG) with its hash in the ``exclusions`` table,
saved by :meth:`Project.save_rough` with the ``"exclude"`` key in the same crash-safe
transaction as the rough masks. GT (in the window and in exports) is texture × rough
mask × not excluded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from core.classes import CLASSES, EXCLUDE
from core.project.host import CatalogHost
from core.project.masks import (
    MaskFileError,
    decode_gray,
    encode_mask,
    read_consistent,
    sha256_bytes,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.project.db import Database, Tx

Staged = tuple[str, int] | None  # (sha256, painted pixels) of a new exclusion mask


class ExclusionMixin(CatalogHost):
    """The exclusion mask of each image."""

    def load_exclusion(self, image_id: int) -> np.ndarray:
        """The image's exclusion mask, ``(M, N) bool`` (all False if never painted)."""
        rec = self.image(image_id)
        store = self.stores["masks"]

        def read(rows: list[tuple]) -> np.ndarray:
            if not rows:
                return np.zeros((rec.rows, rec.cols), bool)
            rel = store.relpath(rec.id, EXCLUDE)
            arr = decode_gray(store.read(rec.id, EXCLUDE, rows[0][0]), name=rel)
            if arr.shape != (rec.rows, rec.cols):
                raise MaskFileError(f"{rel} is {arr.shape}, the image is {(rec.rows, rec.cols)}")
            return arr != 0

        sql = "SELECT sha256 FROM exclusions WHERE image_id = ?"
        return read_consistent(lambda: self.db.rows(sql, (image_id,)), read, retry=True)

    def gt_rough(self, image_id: int, rough: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``rough`` minus the image's exclusion mask: what GT is computed from."""
        exclude = self.load_exclusion(image_id)
        if not exclude.any():
            return rough
        return {c: np.asarray(rough[c]) & ~exclude for c in CLASSES}


# -- the save protocol's part (called by Catalog.save_rough with its database) -------


def take_exclusion(
    db: Database,
    image_id: int,
    masks: Any,
    shape: tuple[int, int],
    stage: Callable[[str, bytes], None],
) -> tuple[dict[str, Any], Staged]:
    """Split the ``"exclude"`` entry off ``masks`` and stage it if it changed."""
    rest = dict(masks)
    exclusion = rest.pop(EXCLUDE, None)
    if exclusion is None:
        return rest, None
    return rest, _stage_exclusion(db, image_id, exclusion, shape, stage)


def _stage_exclusion(
    db: Database,
    image_id: int,
    mask: Any,
    shape: tuple[int, int],
    stage: Callable[[str, bytes], None],
) -> Staged:
    """Stage a changed exclusion mask (None if it is the saved one)."""
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise MaskFileError(f"exclusion mask is {arr.shape}; image {image_id} is {shape}")
    data = encode_mask(arr)
    digest = sha256_bytes(data)
    current = db.rows("SELECT sha256 FROM exclusions WHERE image_id = ?", (image_id,))
    if current and current[0][0] == digest:
        return None
    if not current and not arr.any():
        return None  # an empty mask never saved stays unsaved
    stage(EXCLUDE, data)
    return digest, int(np.count_nonzero(arr))


def record_exclusion(tx: Tx, image_id: int, staged: Staged, now: str, user: str) -> None:
    """Inside the save's transaction: the exclusion row of a staged mask."""
    if staged is None:
        return
    tx.execute(
        "INSERT INTO exclusions(image_id, sha256, painted, saved_utc, user_name) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(image_id) DO UPDATE SET "
        "sha256 = excluded.sha256, painted = excluded.painted, "
        "saved_utc = excluded.saved_utc, user_name = excluded.user_name",
        (image_id, staged[0], staged[1], now, user),
    )


def committed_exclusions(db: Database) -> dict[tuple[int, str], str]:
    """``{(image_id, "exclude"): sha256}`` of every saved exclusion mask (for recovery)."""
    return {(i, EXCLUDE): h for i, h in db.rows("SELECT image_id, sha256 FROM exclusions")}
