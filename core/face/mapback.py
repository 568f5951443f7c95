"""Export in the original photo's coordinates: map an exported dataset of aligned crops back.

A project imported with alignment (``skintrace import --align``, or crops made by
``skintrace align``) annotates 768×640 crops; each crop's transform is in
``transforms/<stem>.json`` (:mod:`core.face.align`). :func:`map_back_dataset` rewrites an
exported dataset so every item whose crop has a transform holds the original photo and its
GT, masks and rough masks carried back (nearest neighbour, exact to 1 px), with ``rows`` and
``cols`` updated in the manifest and ``index.csv``; ``content_hash`` stays the crop's, so
each item keeps its train/val split. Items without
a transform are copied unchanged and listed. The new dataset is written beside ``out`` and
swapped in whole (``core.atomic.replace_folder``).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from core.atomic import atomic_write_text, make_temp_dir, replace_folder
from core.errors import DatasetError
from core.face.align import load_transform
from core.progress import CancelToken, Progress


def _read_png(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise DatasetError(f"{path} cannot be read; export the dataset again")
    return arr


def _fix_index(path: Path, sizes: dict[str, tuple[int, int]]) -> None:
    """Rewrite the ``rows``/``cols`` columns of the dataset's ``index.csv`` (if any)."""
    if not path.is_file():
        return
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], list(reader)
    if "rows" not in fields or "cols" not in fields:
        return
    for row in rows:
        if row.get("id") in sizes:
            row["rows"], row["cols"] = (str(v) for v in sizes[row["id"]])
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def map_back_dataset(
    dataset: str | Path,
    transforms: str | Path,
    out: str | Path,
    *,
    force: bool = False,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Write ``out``: ``dataset`` with aligned items mapped back onto their original photos.

    Last ``Progress.info``: ``mapped``, ``unmapped`` (item ids left in crop coordinates).
    """
    from core.dataset import read_manifest
    from core.imageio import load_image, save_png

    dataset, transforms, out = Path(dataset), Path(transforms), Path(out)
    read_manifest(dataset)  # validates every path first
    doc = json.loads((dataset / "manifest.json").read_text(encoding="utf-8"))
    if out.exists() and any(out.iterdir()) and not force:
        raise DatasetError(f"{out} is not empty; choose another folder or use --force")
    if not transforms.is_dir():
        raise DatasetError(f"{transforms} holds no alignment transforms; align or import with --align first")  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_dir(out.parent, prefix=f"{out.name}.partial-")
    mapped, unmapped = 0, []
    try:
        for sub in ("images", "gt", "masks", "rough"):
            if (dataset / sub).is_dir():
                shutil.copytree(dataset / sub, tmp / sub)
        if (dataset / "index.csv").is_file():
            shutil.copy2(dataset / "index.csv", tmp / "index.csv")
        items = doc["items"]
        for i, item in enumerate(items):
            if cancel is not None:
                cancel.raise_if_cancelled()
            stem = str(PurePosixPath(str(item.get("source") or item["id"])).with_suffix(""))
            tfile = transforms / f"{stem}.json"
            if not tfile.is_file():
                unmapped.append(item["id"])
                yield Progress(i + 1, len(items), f"kept {item['id']} (no transform)")
                continue
            t, original = load_transform(tfile)
            pixels = load_image(original).pixels
            if pixels.shape[:2] != t.original_shape:
                raise DatasetError(f"{original} is no longer the photo {item['id']} was cropped from; align again")  # fmt: skip
            save_png(tmp / item["image"], pixels)
            for kind in ("gt", "masks", "rough"):
                for rel in item.get(kind, {}).values():
                    save_png(tmp / rel, t.map_back(_read_png(dataset / rel)))
            item["rows"], item["cols"] = t.original_shape
            mapped += 1
            yield Progress(i + 1, len(items), f"mapped back {item['id']}")
        _fix_index(tmp / "index.csv", {it["id"]: (it["rows"], it["cols"]) for it in items})
        atomic_write_text(tmp / "manifest.json", json.dumps(doc, indent=1) + "\n")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    yield Progress(len(items), len(items), "done", info={"mapped": mapped, "unmapped": unmapped, "out": str(out)})  # fmt: skip
