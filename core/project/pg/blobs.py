"""PNG blobs of a team project (rough masks, exclusion, annotator masks, pre-labels).

A SQLite project keeps these as files beside its catalog (:class:`core.project.masks.
FileStore`, a write-ahead protocol around the catalog transaction). A team project keeps
them in the ``blobs`` table as ``bytea``, written in the same transaction as the rows
that list their sha256, so a save is one commit and there is nothing to recover.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from core.project.masks import MaskFileError, sha256_bytes

STORES = ("masks", "prelabels", "annotators")


class Staged:
    """What one save stages: written by :meth:`DbStore.write_staged` inside the transaction."""

    def __init__(self, image_id: int) -> None:
        self.image_id = image_id
        self.items: dict[str, bytes] = {}

    def __call__(self, name: str, data: bytes) -> None:
        self.items[name] = data


class DbStore:
    """PNG bytes under one store name, keyed ``(image_id, name)``.

    Parameters
    ----------
    database
        A :class:`~core.project.pg.database.PostgresDatabase`.
    store
        ``"masks"``, ``"prelabels"`` or ``"annotators"`` (the folder a SQLite project uses).
    """

    def __init__(self, database: Any, store: str) -> None:
        if store not in STORES:
            raise ValueError(f"unknown blob store {store!r}")
        self.database = database
        self.folder = store

    def relpath(self, image_id: int, name: str) -> str:
        """How messages name a blob (the path it would have in a SQLite project)."""
        return f"{self.folder}/{image_id}/{name}.png"

    @contextlib.contextmanager
    def saving(self, image_id: int) -> Iterator[Staged]:
        """Collect ``stage(name, data)`` calls; :meth:`write_staged` writes them in the tx."""
        yield Staged(image_id)

    def write_staged(self, tx: Any, staged: Staged) -> None:
        for name, data in staged.items.items():
            self.write(tx, staged.image_id, name, data)

    def write(self, tx: Any, image_id: int, name: str, data: bytes) -> str:
        """Insert or replace one blob inside ``tx``; its sha256."""
        digest = sha256_bytes(data)
        tx.execute(
            "INSERT INTO blobs(store, image_id, name, sha256, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(store, image_id, name) DO UPDATE SET sha256 = excluded.sha256, "
            "data = excluded.data",
            (self.folder, image_id, name, digest, data),
        )
        return digest

    def remove(self, tx: Any, image_id: int, name: str) -> None:
        tx.execute(
            "DELETE FROM blobs WHERE store = ? AND image_id = ? AND name = ?",
            (self.folder, image_id, name),
        )

    def read(self, image_id: int, name: str, sha256: str) -> bytes:
        """The blob's bytes, verified against the catalog's ``sha256``."""
        with self.database.read() as tx:
            row = tx.one(
                "SELECT data FROM blobs WHERE store = ? AND image_id = ? AND name = ?",
                (self.folder, image_id, name),
            )
        rel = self.relpath(image_id, name)
        if row is None:
            raise MaskFileError(f"{rel} is missing from the team catalog (the catalog lists it)")
        data = bytes(row[0])
        if sha256_bytes(data) != sha256:
            raise MaskFileError(f"{rel} does not match the catalog (changed outside SkinTrace)")
        return data

    def recover(self, committed: Mapping[tuple[int, str], str]) -> list[str]:
        """Nothing to finish: a blob and its row commit together."""
        return []


#: The shape of ``FileStore.saving``'s stage callable, for type hints elsewhere.
Stage = Callable[[str, bytes], None]
