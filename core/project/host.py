"""What the catalog's parts may use of the :class:`~core.project.catalog.Catalog` they form.

The catalog is put together from mixins (rough masks, pre-labels and settings, models,
annotators, the exclusion mask). Each inherits :class:`CatalogHost`, which declares the
attributes and the few methods of the catalog they rely on, so each part type-checks
alone and the list is written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from core.project.db import Database, Tx
    from core.project.masks import BlobStore
    from core.project.records import HistoryEntry, ImageRecord
    from core.project.status import Status


class CatalogHost:
    """Declarations only: the catalog sets these attributes and defines these methods."""

    root: Path
    db: Database
    stores: dict[str, BlobStore]
    user: str
    read_only: bool

    if TYPE_CHECKING:

        def check_writable(self) -> None: ...
        def editing(self, image_id: int) -> threading.RLock: ...
        def image(self, image_id: int, *, tx: Tx | None = None) -> ImageRecord: ...
        def now_and_user(self) -> tuple[str, str]: ...
        def move(
            self, tx: Tx, image_id: int, current: Status | None, target: Status, comment: str
        ) -> HistoryEntry: ...
