"""A GT dataset straight from an image folder and two rough-mask folders (no project).

``skintrace dataset from-masks``: masks are matched to images by file stem and written
through :func:`core.dataset.write_dataset`, so the output has the same format and the same
guarantees (atomic swap, refused targets) as an export.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from core.classes import CLASSES
from core.dataset import (
    DEFAULT_VAL_RATIO,
    DatasetEntry,
    load_painted,
    safe_item_id,
    write_dataset,
)
from core.errors import DatasetError, ImageLoadError
from core.gt.engine import GTParams
from core.imageio import IMAGE_SUFFIXES, check_min_size, load_image
from core.progress import CancelToken, Progress

__all__ = ["dataset_from_masks"]


def _files_by_stem(folder: Path, what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DatasetError(f"{what} folder {folder} does not exist")
    found: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            found.setdefault(p.stem, p)
    return found


def dataset_from_masks(
    images: str | os.PathLike[str],
    rough_wrinkle: str | os.PathLike[str],
    rough_pore: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    params: GTParams | None = None,
    val_ratio: float = DEFAULT_VAL_RATIO,
    seed: int = 0,
    force: bool = False,
    status: str = "accepted",
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Build a dataset straight from an image folder and two rough-mask folders.

    Masks are matched to images by file stem (``face01.jpg`` ↔ ``face01.png``);
    nonzero pixels are painted. An image with a mask for one class only gets an
    empty mask for the other; an image with no mask at all is skipped and reported.

    Yields
    ------
    Progress
        As :func:`write_dataset`; the last one's ``info`` adds ``skipped``, a list of
        ``(image, reason)``.
    """
    params = params or GTParams()
    image_files = _files_by_stem(Path(images), "image")
    masks = {
        "wrinkle": _files_by_stem(Path(rough_wrinkle), "wrinkle mask"),
        "pore": _files_by_stem(Path(rough_pore), "pore mask"),
    }
    skipped: list[tuple[str, str]] = []
    chosen = []
    for stem, path in image_files.items():
        if not any(stem in masks[c] for c in CLASSES):
            skipped.append((str(path), "no wrinkle or pore mask with the same file stem"))
        else:
            chosen.append((stem, path))
    if not chosen:
        raise DatasetError(f"no image in {images} has a rough mask with the same file stem")
    used_ids: set[str] = set()

    def entries() -> Iterator[DatasetEntry]:
        for stem, path in chosen:
            try:
                pixels = load_image(path).pixels
                check_min_size(path, *pixels.shape[:2])
                rough: dict[str, np.ndarray] = {
                    c: load_painted(masks[c][stem], shape=pixels.shape[:2])
                    for c in CLASSES
                    if stem in masks[c]
                }
            except ImageLoadError as exc:
                raise DatasetError(str(exc)) from None
            item_id = safe_item_id(stem)
            while item_id in used_ids:
                item_id = f"{item_id}_"
            used_ids.add(item_id)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            yield DatasetEntry(item_id, pixels, rough, status, digest, info={"source": path.name})

    for p in write_dataset(
        out,
        entries(),
        params=params,
        val_ratio=val_ratio,
        seed=seed,
        total=len(chosen),
        force=force,
        cancel=cancel,
        protected=(
            (images, "the image folder"),
            (rough_wrinkle, "the wrinkle mask folder"),
            (rough_pore, "the pore mask folder"),
        ),
    ):
        final = "out" in p.info
        yield replace(p, info={**p.info, "skipped": skipped}) if final else p
