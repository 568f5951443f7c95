"""Per-image PNG files (rough masks, pre-labels) kept consistent with the catalog.

A save is a small write-ahead protocol so that a crash at any moment leaves the last
completed save intact:

1. each new file is written atomically as ``<name>.png.pending`` (temp + fsync + replace);
2. one catalog transaction records the new files' sha256;
3. each ``.pending`` file is renamed over ``<name>.png``.

On the next writable open, :meth:`FileStore.recover` finishes step 3 for pending files
whose hash the catalog holds (the save committed) and deletes the others (it did not).
Readers verify every file against the catalog's hash, so a file changed or damaged
outside SkinTrace is reported by name instead of being used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np

from core.atomic import atomic_write_bytes, disk_full_error
from core.errors import DiskFullError, ProjectError
from core.imageio import PNG_SIGNATURE, encode_png

PENDING = ".pending"

#: Times a read-only view re-reads a save that failed its hash check before reporting it.
READ_RETRIES = 5


def retry_pause(attempt: int) -> None:
    """Wait a little before re-reading a save another process may be moving into place.

    A mismatch does not mean damage when another process writes: between our catalog
    query and our read it may install the save we expect and already stage the next
    one beside it, so neither file matches although the catalog has not moved on.
    """
    time.sleep(0.005 * (attempt + 1))


class MaskFileError(ProjectError):
    """A mask or pre-label file is missing, damaged or does not match the catalog."""


_Rows = TypeVar("_Rows")
_Read = TypeVar("_Read")


def read_consistent(
    fetch: Callable[[], _Rows], read: Callable[[_Rows], _Read], *, retry: bool
) -> _Read:
    """``read(fetch())``: files read as the catalog rows ``fetch`` returns describe them.

    With ``retry`` (a read-only view, which can race a save by the writing process) a
    MaskFileError reads the whole save again, the newer one if the catalog moved on
    meanwhile, up to :data:`READ_RETRIES` times; without it the error is raised at once.
    """
    rows, attempt = fetch(), 0
    while True:
        try:
            return read(rows)
        except MaskFileError:
            if not retry or attempt == READ_RETRIES:
                raise
        fresh = fetch()
        if fresh == rows:
            retry_pause(attempt)
        rows, attempt = fresh, attempt + 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_mask(mask: np.ndarray) -> bytes:
    """``(M, N)`` mask (nonzero = painted) → 0/255 lossless PNG bytes."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"a mask must be 2-D (M, N), got shape {arr.shape}")
    return encode_png(np.where(arr != 0, np.uint8(255), np.uint8(0)), compression=1)


def encode_map(values: np.ndarray) -> bytes:
    """``(M, N) uint8`` map (pre-label magnitude) → lossless PNG bytes."""
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"a map must be (M, N) uint8, got {arr.dtype} {arr.shape}")
    return encode_png(arr, compression=1)


def decode_gray(data: bytes, *, name: str) -> np.ndarray:
    """PNG bytes → ``(M, N) uint8``; MaskFileError naming ``name`` if undecodable."""
    # Only PNG reaches OpenCV's decoders (the closed list of core.imageio).
    arr = None
    if data.startswith(PNG_SIGNATURE):
        arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.ndim != 2 or arr.dtype != np.uint8:
        raise MaskFileError(f"{name} is damaged or not a single-channel 8-bit PNG")
    return arr


class Staging:
    """The files of one save, staged before its transaction (see :meth:`FileStore.saving`)."""

    def __init__(self, store: FileStore, image_id: int) -> None:
        self.store, self.image_id = store, image_id
        self.keys: list[str] = []

    def __call__(self, key: str, data: bytes) -> None:
        """Step 1: write ``data`` beside the live file of ``key`` (a class, ``exclude``...)."""
        self.store.stage(self.image_id, key, data)
        self.keys.append(key)

    def commit(self, tx: Any) -> None:
        """Step 2, inside the caller's transaction: files need nothing (a store that
        keeps the bytes in the database writes them here)."""


class BlobStore(Protocol):
    """Where a project keeps per-image PNG blobs (rough masks, pre-labels, kept masks).

    :class:`FileStore` (files beside a SQLite catalog) is the default; a PostgreSQL
    project may keep the bytes in the database, written in the save's transaction.
    """

    def relpath(self, image_id: int, key: str) -> str: ...
    def path(self, image_id: int, key: str) -> Path: ...
    def saving(self, image_id: int) -> contextlib.AbstractContextManager[Any]: ...
    def read(self, image_id: int, key: str, sha256: str) -> bytes: ...
    def remove(self, image_id: int, key: str) -> None: ...
    def recover(self, committed: Mapping[tuple[int, str], str]) -> list[str]: ...


class FileStore:
    """PNG files under one project subfolder, e.g. ``masks/<image_id>/<class>.png``."""

    def __init__(self, root: Path, folder: str) -> None:
        self.root = root
        self.folder = folder
        self.base = root / folder

    def relpath(self, image_id: int, cls: str) -> str:
        return f"{self.folder}/{image_id}/{cls}.png"

    def path(self, image_id: int, cls: str) -> Path:
        return self.base / str(image_id) / f"{cls}.png"

    def stage(self, image_id: int, cls: str, data: bytes) -> Path:
        """Step 1: write the new content beside the live file."""
        live = self.path(image_id, cls)
        pending = live.with_name(f"{cls}.png{PENDING}")
        try:
            atomic_write_bytes(pending, data)
        except DiskFullError as exc:
            kind = "rough mask" if self.folder == "masks" else "pre-label"
            what = f"the {cls} {kind} of image {image_id}"
            raise disk_full_error(live, exc, what=what) from None
        return pending

    @contextlib.contextmanager
    def saving(self, image_id: int) -> Iterator[Staging]:
        """The whole protocol around the caller's catalog transaction (step 2).

        Yields a :class:`Staging`: ``staging(key, data)`` is step 1 (call it before the
        transaction), ``staging.commit(tx)`` inside it (nothing to do for files). When
        the block ends normally every staged file is installed (step 3); when it raises
        they are all discarded.
        """
        staging = Staging(self, image_id)
        try:
            yield staging
        except BaseException:
            for key in staging.keys:
                self.discard(image_id, key)
            raise
        for key in staging.keys:
            self.install(image_id, key)

    def install(self, image_id: int, cls: str) -> None:
        """Step 3: the catalog committed; the pending file becomes the live one."""
        live = self.path(image_id, cls)
        os.replace(live.with_name(f"{cls}.png{PENDING}"), live)

    def discard(self, image_id: int, cls: str) -> None:
        """Undo step 1 after a failed catalog transaction."""
        pending = self.path(image_id, cls).with_name(f"{cls}.png{PENDING}")
        with contextlib.suppress(FileNotFoundError):
            pending.unlink()

    def remove(self, image_id: int, cls: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(image_id, cls).unlink()

    def read(self, image_id: int, cls: str, sha256: str) -> bytes:
        """The file's bytes, verified against the catalog's ``sha256``.

        While another process is between steps 2 and 3 the committed content is still
        in the ``.pending`` file; it is used when its hash is the catalog's.
        """
        live = self.path(image_id, cls)
        rel = self.relpath(image_id, cls)
        candidates = (live, live.with_name(f"{cls}.png{PENDING}"))
        found = False
        for path in candidates:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise MaskFileError(f"{rel} cannot be read: {exc.strerror}") from None
            found = True
            if sha256_bytes(data) == sha256:
                return data
        if not found:
            raise MaskFileError(f"{rel} is missing (the catalog lists it)")
        raise MaskFileError(
            f"{rel} does not match the catalog (damaged or changed outside SkinTrace)"
        )

    def recover(self, committed: Mapping[tuple[int, str], str]) -> list[str]:
        """Finish or roll back interrupted saves; return what was done, for the log.

        ``committed`` maps ``(image_id, class)`` to the catalog's sha256.
        """
        actions: list[str] = []
        if not self.base.is_dir():
            return actions
        for pending in sorted(self.base.glob(f"*/*.png{PENDING}")):
            cls = pending.name[: -len(f".png{PENDING}")]
            try:
                key = (int(pending.parent.name), cls)
                data = pending.read_bytes()
            except (ValueError, OSError):
                continue
            if committed.get(key) == sha256_bytes(data):
                os.replace(pending, pending.with_name(f"{cls}.png"))
                actions.append(f"completed {self.relpath(*key)}")
            else:
                pending.unlink()
                actions.append(f"rolled back {self.relpath(*key)}")
        # Stray temp files of atomic writes interrupted in step 1.
        for tmp in self.base.glob("*/.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        return actions
