"""Several annotators on one image: every annotator's last rough masks are kept.

Mixed into :class:`core.project.Project` (schema migration 3). The ``masks`` table holds
the newest rough masks of each image (whoever saved them; its ``user_name`` column says who).
When another annotator saves over a class, the previous annotator's version is first
preserved in ``annotator_masks`` under ``annotators/<image_id>/<key>.<class>.png``, in the
same crash-safe transaction as the save (:mod:`core.project.masks`). So nothing an
annotator saved is lost, and :meth:`AnnotatorsMixin.annotations` returns each annotator's
last version for agreement and consensus (:mod:`core.gt.agreement`).

With the project setting ``annotation.independent`` on, :meth:`load_rough_for_editing`
gives each annotator their own masks (empty if they never annotated the image), so
annotators label the same image without seeing each other's work.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from core.classes import CLASSES, EXCLUDE
from core.project.host import CatalogHost
from core.project.masks import MaskFileError, decode_gray, read_consistent

if TYPE_CHECKING:
    from collections.abc import Iterable

    from core.project.db import Database, Tx
    from core.project.masks import BlobStore

#: Project setting: annotators edit their own masks of an image, not the newest ones.
SETTING_INDEPENDENT = "annotation.independent"

Preserved = list[tuple[str, str, str, str, int, str]]  # annotator, stem, class, sha, px, utc


def annotator_key(name: str) -> str:
    """A file-name-safe, unique stem for an annotator name (``alice-1a2b3c``)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:32] or "annotator"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:6]}"


class AnnotatorsMixin(CatalogHost):
    """Per-annotator rough masks of an image, kept when someone else saves over them."""

    if TYPE_CHECKING:

        def get_setting(self, key: str, default: Any = None) -> Any: ...
        def load_rough(self, image_id: int) -> dict[str, np.ndarray]: ...
        def load_exclusion(self, image_id: int) -> np.ndarray: ...

    # -- reading -----------------------------------------------------------------------

    def annotators(self, image_id: int) -> list[str]:
        """Names of everyone whose rough masks of the image are kept, sorted."""
        rows = self.db.rows(
            "SELECT user_name FROM masks WHERE image_id = ? UNION "
            "SELECT annotator FROM annotator_masks WHERE image_id = ?",
            (image_id, image_id),
        )
        return sorted(r[0] for r in rows)

    def annotations(self, image_id: int) -> dict[str, dict[str, np.ndarray]]:
        """Every annotator's last rough masks of the image: ``{annotator: {class: mask}}``.

        A class an annotator never saved is all False. Raises MaskFileError naming the
        file if one is missing or damaged.
        """
        rec = self.image(image_id)
        return read_consistent(
            lambda: self._annotation_rows(image_id),
            lambda rows: self._read_annotations(rec, rows),
            retry=True,
        )

    def _annotation_rows(self, image_id: int) -> list[tuple[str, str, str, str]]:
        """(annotator, class, store, stem-or-class) rows; the newest save wins."""
        main = self.db.rows(
            "SELECT user_name, class, sha256 FROM masks WHERE image_id = ?", (image_id,)
        )
        kept = self.db.rows(
            "SELECT annotator, class, sha256, file FROM annotator_masks WHERE image_id = ?",
            (image_id,),
        )
        rows: dict[tuple[str, str], tuple[str, str, str, str]] = {}
        for annotator, cls, sha, stem in kept:
            rows[(annotator, cls)] = (annotator, cls, sha, f"annotators:{stem}")
        for user, cls, sha in main:  # the masks table holds each class's newest save
            rows[(user, cls)] = (user, cls, sha, f"masks:{cls}")
        return sorted(rows.values())

    def _read_annotations(
        self, rec: Any, rows: list[tuple[str, str, str, str]]
    ) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for annotator, cls, sha, where in rows:
            store_name, stem = where.split(":", 1)
            store = self.stores["masks" if store_name == "masks" else "annotators"]
            data = store.read(rec.id, stem, sha)
            arr = decode_gray(data, name=store.relpath(rec.id, stem))
            if arr.shape != (rec.rows, rec.cols):
                raise MaskFileError(
                    f"{store.relpath(rec.id, stem)} is {arr.shape}, the image is "
                    f"{(rec.rows, rec.cols)}"
                )
            masks = out.setdefault(
                annotator, {c: np.zeros((rec.rows, rec.cols), bool) for c in CLASSES}
            )
            masks[cls] = arr != 0
        return out

    def independent(self) -> bool:
        """Whether annotators edit their own masks (setting ``annotation.independent``)."""
        return bool(self.get_setting(SETTING_INDEPENDENT, False))

    def load_rough_for_editing(self, image_id: int) -> dict[str, np.ndarray]:
        """The rough masks the annotation window opens: the newest ones, or with
        ``annotation.independent`` on, this user's own (empty if they have none); plus the
        image's exclusion mask under ``"exclude"``."""
        rough: dict[str, np.ndarray]
        if not self.independent():
            rough = dict(self.load_rough(image_id))
        else:
            rec = self.image(image_id)
            zeros: dict[str, np.ndarray] = {
                c: np.zeros((rec.rows, rec.cols), bool) for c in CLASSES
            }
            rough = dict(self.annotations(image_id).get(self.user) or zeros)
        rough[EXCLUDE] = self.load_exclusion(image_id)  # shared by every annotator
        return rough

    def consensus_rough(
        self, image_id: int, *, method: str = "majority"
    ) -> Mapping[str, np.ndarray]:
        """Consensus rough masks of every annotator of the image (:mod:`core.gt.agreement`);
        the newest masks when only one annotator worked on it."""
        from core.gt.agreement import consensus

        found = self.annotations(image_id)
        if len(found) < 2:
            return self.load_rough(image_id)
        return {c: consensus([m[c] for m in found.values()], method=method) for c in CLASSES}


# -- the save protocol's part (called by Catalog.save_rough) ---------------------------


def preserve_previous(
    db: Database,
    masks: BlobStore,
    user: str,
    image_id: int,
    classes: Iterable[str],
    keep: Callable[[str, bytes], None],
) -> Preserved:
    """Stage the current masks of ``classes`` that someone other than ``user`` saved."""
    rows = db.rows(
        "SELECT class, sha256, painted, saved_utc, user_name FROM masks WHERE image_id = ?",
        (image_id,),
    )
    out: Preserved = []
    wanted = set(classes)
    for cls, sha, painted, saved, owner in rows:
        if cls not in wanted or owner == user:
            continue
        data = masks.read(image_id, cls, sha)
        stem = f"{annotator_key(owner)}.{cls}"
        keep(stem, data)
        out.append((owner, stem, cls, sha, int(painted), saved))
    return out


def record_preserved(tx: Tx, image_id: int, rows: Preserved) -> None:
    """Inside the save's transaction: the ``annotator_masks`` rows of kept masks."""
    tx.executemany(
        "INSERT INTO annotator_masks(image_id, annotator, file, class, sha256, "
        "painted, saved_utc) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(image_id, annotator, class) DO UPDATE SET file = excluded.file, "
        "sha256 = excluded.sha256, painted = excluded.painted, "
        "saved_utc = excluded.saved_utc",
        [(image_id, a, stem, c, sha, px, t) for a, stem, c, sha, px, t in rows],
    )


def committed_annotator_files(db: Database) -> dict[tuple[int, str], str]:
    """``{(image_id, file stem): sha256}`` of every kept annotator mask (for recovery)."""
    rows = db.rows("SELECT image_id, file, sha256 FROM annotator_masks")
    return {(i, f): h for i, f, h in rows}
