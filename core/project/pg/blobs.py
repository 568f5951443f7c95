"""PNG blobs of a team project (rough masks, exclusion, annotator masks, pre-labels).

A SQLite project keeps these as files beside its catalog (:class:`core.project.masks.
FileStore`, a write-ahead protocol around the catalog transaction). A team project keeps
them in the ``blobs`` table as ``bytea``, written in the same transaction as the rows
that list their sha256, so a save is one commit and there is nothing to recover.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.project.masks import MaskFileError, sha256_bytes

STORES = ("masks", "prelabels", "annotators")


class Staged:
    """One save's blobs: ``staged(key, data)`` before the transaction, ``commit(tx)`` in it."""

    def __init__(self, store: DbStore, image_id: int) -> None:
        self.store, self.image_id = store, image_id
        self.items: dict[str, bytes] = {}

    def __call__(self, key: str, data: bytes) -> None:
        self.items[key] = data

    @property
    def keys(self) -> list[str]:
        return list(self.items)

    def commit(self, tx: Any) -> None:
        """Write every staged blob inside the caller's transaction."""
        for key, data in self.items.items():
            self.store.write(tx, self.image_id, key, data)


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

    def path(self, image_id: int, name: str) -> Path:
        """Where a SQLite project would keep the blob; never a file here (repair backs up
        only files that exist)."""
        return Path(self.relpath(image_id, name))

    @contextlib.contextmanager
    def saving(self, image_id: int) -> Iterator[Staged]:
        """Collect a save's blobs; its ``commit(tx)`` writes them in the transaction."""
        yield Staged(self, image_id)

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

    def remove(self, image_id: int, name: str) -> None:
        """Drop a blob the catalog no longer lists (after the commit that forgot it)."""
        with self.database.transaction() as tx:
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
