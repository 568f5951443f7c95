"""Opening a document off the GUI thread: decode, masks, parameters; JPEG previews.

Plain functions for worker threads (no Qt): :class:`~app.gui.session.AnnotationSession`
runs them in workers and shows what they return.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from core.gt.document import AnnotationDocument
    from core.project.records import ImageRecord

PREVIEW_SIDE = 1600  # longer side of a reduced preview decode (pixels)


def trim_heap() -> None:
    """Hand freed memory back to the system.

    Decoding a large image and computing its maps on worker threads frees hundreds of MB
    that glibc keeps in the threads' heaps; without this the process stays that much
    bigger after each large image. No-op elsewhere than Linux/glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@dataclass
class LoadedDocument:
    """A document ready to show, with the record it was loaded for."""

    image_id: int
    record: ImageRecord
    document: AnnotationDocument
    #: The masks' revisions when they were read: the base of the next save (a save
    #: refused as stale if someone saved since; ``Project.save_rough(base_revisions=)``).
    revisions: dict[str, int] | None = None


def load_document(project: Any, image_id: Any, *, defer_textures: bool = False) -> LoadedDocument:
    """Read image, rough masks and parameters and build the document (worker thread).

    With ``defer_textures`` the texture maps are left to
    :meth:`~core.gt.document.AnnotationDocument.compute_textures_steps`.
    """
    from core.gt.document import AnnotationDocument
    from core.imageio import load_image

    record = project.image(image_id)
    pixels = load_image(record.path).pixels
    revisions = project.mask_revisions(image_id)  # first: a save in between is refused
    rough = project.load_rough_for_editing(image_id)  # own masks in independent mode
    params = project.params(image_id)
    document = AnnotationDocument(pixels, params=params, rough=rough, defer_textures=defer_textures)
    return LoadedDocument(image_id, record, document, revisions)


def load_preview(path: str | Path, *, side: int = PREVIEW_SIDE) -> np.ndarray | None:
    """A reduced ``(m, n, 3) uint8`` decode of a JPEG for a quick preview (worker thread).

    JPEG decodes at 1/2 to 1/8 scale for a fraction of the full decode's time; other
    formats cannot, so they give None (the list thumbnail stands in). EXIF
    orientation is applied, as :func:`core.imageio.load_image` does.
    """
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        if im.format != "JPEG":
            return None
        cols, rows = im.size
        scale = max(1, max(rows, cols) // side)
        im.draft("RGB", (max(1, cols // scale), max(1, rows // scale)))
        small = ImageOps.exif_transpose(im.convert("RGB"))
        small.thumbnail((side, side))
        return np.asarray(small, dtype=np.uint8)


def pixel_count(loaded: LoadedDocument) -> int:
    """Image pixels of a loaded document (the cache budget counts these)."""
    rows, cols = loaded.document.shape[:2]
    return int(rows) * int(cols)
