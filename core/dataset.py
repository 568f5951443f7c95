"""GT dataset format, version 1: what export writes and training/evaluation read.

A dataset is a folder::

    manifest.json   format name/version, classes, GT parameters, one record per item
    index.csv       the same items as a flat table (for spreadsheets and scripts)
    images/         the input images as RGB PNG (orientation already applied)
    gt/<class>/     uint8 ground-truth magnitude PNG per class
    masks/<class>/  binary GT masks (``gt > 0``) as 0/255 PNG
    rough/<class>/  the annotator's rough masks as 0/255 PNG

Every path in the manifest is a relative POSIX path inside the folder. A manifest
whose paths are absolute or climb out with ``..`` is refused with
:class:`~core.errors.DatasetError`, so a downloaded dataset cannot make training
read or overwrite files elsewhere.

This module does not import torch; :mod:`core.model` reads datasets through
:func:`read_manifest`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from core.atomic import (
    atomic_write_bytes,
    atomic_write_text,
    disk_full_error,
    is_disk_full,
    make_temp_dir,
    replace_folder,
    restore_folder,
)
from core.bounded import MAX_MANIFEST_BYTES
from core.classes import CLASSES
from core.errors import DatasetError, ImageLoadError, SkinTraceError
from core.formats import read_versioned_json
from core.imageio import encode_png
from core.leftovers import clean_folder, partial_prefix, replace_folder_leftovers
from core.progress import CancelToken, Progress
from core.schemas import ClassPaths, ManifestDocument, validate

if TYPE_CHECKING:
    from core.gt.engine import GTParams

FORMAT_NAME = "skintrace-gt-dataset"
FORMAT_VERSION = 1
#: The paper's split: 264 training and 50 validation images out of 314.
DEFAULT_VAL_RATIO = 50 / 314
MANIFEST = "manifest.json"
INDEX = "index.csv"
#: Marker file in every dataset folder SkinTrace writes: ``--force`` replaces only those.
MARKER = ".skintrace-dataset"

Split = Literal["train", "val"]
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CSV_COLUMNS = (
    "id",
    "split",
    "status",
    "image",
    *(f"gt_{c}" for c in CLASSES),
    *(f"mask_{c}" for c in CLASSES),
    *(f"rough_{c}" for c in CLASSES),
    "rows",
    "cols",
    "content_hash",
)


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class DatasetItem:
    """One image of a dataset with absolute, validated paths."""

    id: str
    image: Path
    gt: Mapping[str, Path]
    masks: Mapping[str, Path]
    rough: Mapping[str, Path]
    status: str
    split: Split
    content_hash: str
    #: Per-image GT parameters when they differ from the dataset's, else None.
    gt_params: Mapping[str, Any] | None = None
    #: Image size as the manifest declares it (None in manifests that do not say).
    rows: int | None = None
    cols: int | None = None


@dataclass(frozen=True)
class DatasetManifest:
    """A parsed, validated ``manifest.json``."""

    root: Path
    format_version: int
    classes: tuple[str, ...]
    #: The dataset's GT parameters as written by ``GTParams.to_dict()``.
    gt_params: Mapping[str, Any]
    items: tuple[DatasetItem, ...]

    def split(self, name: str) -> tuple[DatasetItem, ...]:
        """Items of one split, ``"train"`` or ``"val"`` (``"all"``: every item), in manifest order.

        Raises
        ------
        DatasetError
            If ``name`` is none of ``"train"``, ``"val"``, ``"all"``.
        """
        if name == "all":
            return self.items
        if name not in ("train", "val"):
            raise DatasetError(f"unknown split {name!r}; expected train, val or all")
        return tuple(item for item in self.items if item.split == name)


@dataclass(frozen=True)
class DatasetEntry:
    """What :func:`write_dataset` needs for one image.

    ``image`` is ``(M, N, 3) uint8``; ``rough`` maps each class to an ``(M, N)`` mask
    (nonzero = painted; a missing class counts as empty). ``params`` overrides the
    dataset's GT parameters for this image only.
    """

    id: str
    image: np.ndarray
    rough: Mapping[str, np.ndarray]
    status: str
    content_hash: str
    params: GTParams | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- split


def split_for(content_hash: str, val_ratio: float = DEFAULT_VAL_RATIO, *, seed: int = 0) -> Split:
    """Deterministic train/val assignment keyed by an image's content hash.

    Each image is placed on its own (a hash of ``seed`` and ``content_hash`` mapped to
    [0, 1) compared with ``val_ratio``), so adding images never moves existing ones
    between splits. The validation share is ``val_ratio`` on average, not exactly.

    Parameters
    ----------
    content_hash : str
        The image's sha256 (any non-empty string works).
    val_ratio : float
        Expected fraction of images in ``"val"``, in [0, 1].
    seed : int
        Changes the assignment as a whole, for a different but equally stable split.

    Returns
    -------
    "train" or "val"
    """
    if not 0.0 <= val_ratio <= 1.0:
        raise DatasetError(f"validation ratio must be between 0 and 1, got {val_ratio}")
    if not content_hash:
        raise DatasetError("cannot split an image without a content hash")
    digest = hashlib.sha256(f"{seed}:{content_hash}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    return "val" if u < val_ratio else "train"


# ----------------------------------------------------------------------------- reading


def _safe_relpath(root: Path, value: Any, what: str) -> Path:
    """Resolve a manifest path, refusing absolute paths and paths leaving ``root``."""
    if not isinstance(value, str) or not value:
        raise DatasetError(f"{MANIFEST}: {what} must be a relative path, got {value!r}")
    posix = PurePosixPath(value)
    if (
        posix.is_absolute()
        or PureWindowsPath(value).is_absolute()
        or PureWindowsPath(value).drive
        or "\\" in value
        or ".." in posix.parts
    ):
        raise DatasetError(f"{MANIFEST}: {what} {value!r} leaves the dataset folder; refused")
    path = root.joinpath(*posix.parts)
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        raise DatasetError(
            f"{MANIFEST}: {what} {value!r} points outside the dataset folder (symlink); refused"
        ) from None
    if not path.is_file():
        raise DatasetError(f"{MANIFEST}: {what} {value!r} is missing from {root}")
    return path


def _class_paths(root: Path, group: ClassPaths, key: str, item_id: str) -> dict[str, Path]:
    return {
        c: _safe_relpath(root, getattr(group, c), f"item {item_id!r} {key}.{c}") for c in CLASSES
    }


def read_manifest(folder: str | os.PathLike[str]) -> DatasetManifest:
    """Read and validate a dataset folder's ``manifest.json``.

    Parameters
    ----------
    folder : path
        The dataset folder (the one holding ``manifest.json``).

    Returns
    -------
    DatasetManifest
        With every item's paths resolved to absolute paths inside ``folder``.

    Raises
    ------
    DatasetError
        If the manifest is missing, not a regular file, over 256 MiB or 32 levels of
        nesting, not JSON, of another format or version, does not match
        :class:`core.schemas.ManifestDocument` (the message names the field), names
        paths outside the folder or files that do not exist, or repeats an id.
    """
    root = Path(folder).absolute()
    manifest_path = root / MANIFEST
    data = read_versioned_json(
        manifest_path,
        format_name=FORMAT_NAME,
        version=FORMAT_VERSION,
        error=DatasetError,
        kind="SkinTrace dataset",
        advice="update SkinTrace or re-export the dataset",
        max_bytes=MAX_MANIFEST_BYTES,
    )
    doc = validate(ManifestDocument, data, what=str(manifest_path), error=DatasetError)
    items: list[DatasetItem] = []
    seen: set[str] = set()
    for raw in doc.items:
        item_id = raw.id
        if item_id in seen:
            raise DatasetError(f"{manifest_path}: item id {item_id!r} appears twice")
        seen.add(item_id)
        items.append(
            DatasetItem(
                id=item_id,
                image=_safe_relpath(root, raw.image, f"item {item_id!r} image"),
                gt=_class_paths(root, raw.gt, "gt", item_id),
                masks=_class_paths(root, raw.masks, "masks", item_id),
                rough=_class_paths(root, raw.rough, "rough", item_id),
                status=raw.status,
                split=raw.split,
                content_hash=raw.content_hash,
                gt_params=raw.gt_params,
                rows=raw.rows,
                cols=raw.cols,
            )
        )
    return DatasetManifest(
        root=root,
        format_version=FORMAT_VERSION,
        classes=tuple(doc.classes),
        gt_params=doc.gt_params,
        items=tuple(items),
    )


# ----------------------------------------------------------------------------- writing


def load_painted(
    path: str | os.PathLike[str], *, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Load a rough mask or GT map as ``(M, N) bool``: any nonzero pixel is painted.

    :func:`core.imageio.load_mask` at any integer depth, so a GT magnitude map's faint
    pixels count too and a GT map can stand in for the rough mask it came from.

    Raises
    ------
    ImageLoadError
        If the file cannot be read as a mask or its ``(rows, cols)`` differ from ``shape``.
    """
    from core.imageio import load_mask

    mask = load_mask(path)
    if shape is not None and mask.shape != tuple(shape):
        raise ImageLoadError(
            f"{path}: mask is {mask.shape[1]}×{mask.shape[0]} (cols×rows), "
            f"its image is {shape[1]}×{shape[0]}"
        )
    return mask


def _check_id(item_id: str) -> str:
    if not _ID_RE.match(item_id):
        raise DatasetError(
            f"dataset item id {item_id!r} must be 1-128 letters, digits, '.', '_' or '-'"
        )
    return item_id


def safe_item_id(name: str) -> str:
    """Turn a file name stem into a valid item id (letters, digits, ``._-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:120]
    return cleaned or "item"


def is_skintrace_dataset(folder: Path) -> bool:
    """True if ``folder`` was written by SkinTrace: it has :data:`MARKER` (or, for
    datasets written before the marker existed, a manifest of this format)."""
    if (folder / MARKER).is_file():
        return True
    try:
        head = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(head, dict) and head.get("format") == FORMAT_NAME


def _prepare_out(
    out: Path, *, force: bool, protected: Iterable[tuple[str | os.PathLike[str], str]]
) -> None:
    from core.targets import check_output_folder

    with contextlib.suppress(OSError):
        restore_folder(out)  # a swap killed mid-way: put the user's old dataset back first
    check_output_folder(
        out, force=force, is_ours=is_skintrace_dataset, protected=protected, what="dataset"
    )


def write_dataset(
    out: str | os.PathLike[str],
    entries: Iterable[DatasetEntry],
    *,
    params: GTParams,
    val_ratio: float = DEFAULT_VAL_RATIO,
    seed: int = 0,
    total: int | None = None,
    force: bool = False,
    cancel: CancelToken | None = None,
    protected: Iterable[tuple[str | os.PathLike[str], str]] = (),
) -> Iterator[Progress]:
    """Compute GT for each entry and write a dataset folder, atomically.

    Everything is written to ``OUT.partial-XXXX`` next to ``out``; ``manifest.json`` is
    written last, then the folder is swapped in with :func:`core.atomic.replace_folder`.
    A failed or cancelled write removes the partial folder; a killed one leaves a
    ``.partial-`` folder beside a complete ``out`` (old or new), never a half-written
    ``out`` and never no ``out`` at all.

    Destructive targets are refused before anything is written
    (:func:`core.targets.check_output_folder`): the home folder, a folder that is,
    contains or is inside a ``protected`` one or a SkinTrace project, and with ``force``
    any non-empty folder without SkinTrace's :data:`MARKER`.

    Parameters
    ----------
    out : path
        Dataset folder to create. Must not exist or be empty unless ``force``.
    entries : iterable of DatasetEntry
        Consumed lazily, so a generator keeps memory flat.
    params : GTParams
        The dataset's GT parameters (entries may override them).
    val_ratio, seed : float, int
        Passed to :func:`split_for`.
    total : int, optional
        Number of entries, for progress; ``len(entries)`` when it has one.
    force : bool
        Replace a non-empty ``out`` that SkinTrace wrote (it has :data:`MARKER`).
    cancel : CancelToken, optional
        Checked between images.
    protected : iterable of (path, label)
        Folders ``out`` must not be, contain or lie in (the project, input folders).

    Yields
    ------
    Progress
        One per image; the last has ``info`` with ``out``, ``items``, ``train``, ``val``.
    """
    from core.gt.engine import compute_gt  # lazy: keeps read_manifest free of the GT engine

    out = Path(out).absolute()
    split_for("x", val_ratio)  # validates the ratio before anything is written
    # Destructive targets are refused before anything is touched.
    _prepare_out(out, force=force, protected=protected)
    # What a killed write next to ``out`` left (partial folders, a swap in progress).
    clean_folder(out.parent)
    replace_folder_leftovers(out)
    kept = (
        "the dataset already there is unchanged"
        if out.is_dir() and any(out.iterdir())
        else "no dataset was written"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if total is None and hasattr(entries, "__len__"):
        total = len(entries)  # type: ignore[arg-type]
    total = total or 0
    try:
        tmp = make_temp_dir(out.parent, prefix=partial_prefix(out.name))
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(out, exc, what="the dataset", kept=kept) from None
        raise
    base = params.to_dict()
    try:
        for sub in ("images", *(f"{k}/{c}" for k in ("gt", "masks", "rough") for c in CLASSES)):
            (tmp / sub).mkdir(parents=True)
        items: list[dict[str, Any]] = []
        rows_csv: list[dict[str, Any]] = []
        seen: set[str] = set()
        yield Progress(0, total, "writing dataset")
        for n, entry in enumerate(entries):
            if cancel is not None:
                cancel.raise_if_cancelled()
            item_id = _check_id(entry.id)
            if item_id in seen:
                raise DatasetError(f"dataset item id {item_id!r} appears twice")
            seen.add(item_id)
            image = entry.image
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise DatasetError(f"item {item_id!r}: image must be (M, N, 3) uint8")
            shape = image.shape[:2]
            rough: dict[str, np.ndarray] = {}
            for c in CLASSES:
                mask = entry.rough.get(c)
                mask = np.zeros(shape, bool) if mask is None else np.asarray(mask) != 0
                if mask.shape != shape:
                    raise DatasetError(
                        f"item {item_id!r}: {c} rough mask is {mask.shape}, image is {shape}"
                    )
                rough[c] = mask
            item_params = entry.params or params
            try:
                gt = compute_gt(image, rough, item_params)
            except SkinTraceError as exc:  # e.g. an image too small for the GT engine
                source = entry.info.get("source", item_id)
                raise DatasetError(f"item {item_id!r} ({source}): {exc}") from None
            rel: dict[str, Any] = {"image": f"images/{item_id}.png", "gt": {}, "masks": {}}
            rel["rough"] = {}
            atomic_write_bytes(tmp / rel["image"], encode_png(image))
            for c in CLASSES:
                for key, arr in (
                    ("gt", gt[c]),
                    ("masks", (gt[c] > 0).astype(np.uint8) * 255),
                    ("rough", rough[c].astype(np.uint8) * 255),
                ):
                    rel[key][c] = f"{key}/{c}/{item_id}.png"
                    atomic_write_bytes(tmp / rel[key][c], encode_png(arr))
            split = split_for(entry.content_hash, val_ratio, seed=seed)
            record: dict[str, Any] = {"id": item_id, **rel, "status": entry.status}
            record.update(split=split, content_hash=entry.content_hash)
            record.update(rows=int(shape[0]), cols=int(shape[1]))
            override = item_params.to_dict()
            if override != base:
                record["gt_params"] = override
            record.update({k: v for k, v in entry.info.items() if k not in record})
            items.append(record)
            rows_csv.append(
                {
                    "id": item_id,
                    "split": split,
                    "status": entry.status,
                    "image": rel["image"],
                    **{f"gt_{c}": rel["gt"][c] for c in CLASSES},
                    **{f"mask_{c}": rel["masks"][c] for c in CLASSES},
                    **{f"rough_{c}": rel["rough"][c] for c in CLASSES},
                    "rows": shape[0],
                    "cols": shape[1],
                    "content_hash": entry.content_hash,
                }
            )
            yield Progress(n + 1, max(total, n + 1), item_id)
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows_csv)
        atomic_write_text(tmp / INDEX, text.getvalue())
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "classes": list(CLASSES),
            "gt_params": base,
            "val_ratio": val_ratio,
            "seed": seed,
            "items": items,
        }
        atomic_write_text(tmp / MARKER, f"{FORMAT_NAME} {FORMAT_VERSION}\n")
        # The manifest goes last: a folder without one never looks complete.
        atomic_write_text(tmp / MANIFEST, json.dumps(manifest, indent=1))
        replace_folder(tmp, out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        if is_disk_full(exc):
            raise disk_full_error(out, exc, what="the dataset", kept=kept) from None
        raise
    n_val = sum(1 for i in items if i["split"] == "val")
    info = {"out": str(out), "items": len(items), "train": len(items) - n_val, "val": n_val}
    yield Progress(len(items), max(total, len(items)), "done", info)
