"""Image loading and saving: any common format in, RGB ``uint8`` out.

Formats: PNG (8 and 16 bit), JPEG (EXIF orientation applied), TIFF (8 and 16 bit),
BMP and WebP; gray, gray+alpha, palette, RGB and RGBA sources. Alpha is dropped (not
composited). 16-bit samples are scaled to 8 bit by ``round(v * 255 / 65535)``, so
0 stays 0 and 65535 becomes 255.

Only these five formats are ever decoded (:data:`SUPPORTED_FORMATS`, passed to
``PIL.Image.open(formats=...)``; the only OpenCV decode is of a file Pillow has already
identified as PNG): a file named ``face.jpg`` that is really EPS, PDF or any other
format is refused by its content, so no external program (Ghostscript) ever runs on it.

Budgets: the pixel count is checked from the file header before any pixel data is
decoded (files above :data:`MAX_PIXELS` are refused), and a decode that runs longer
than :data:`MAX_DECODE_SECONDS` is abandoned with an error (it runs in a helper thread
that finishes on its own; the caller is not kept waiting). Both raise
:class:`~core.errors.ImageLoadError` naming the file.

Masks (:func:`load_mask`) keep their raw values at any integer depth (1, 8, 16, 32 bit;
0/1, 0/255, label values, palette indices): nonzero is painted. A mask whose values
cannot be read that way (floating point, painting only in the alpha channel) is an
error naming the file, never an empty mask.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from core.atomic import atomic_write_bytes
from core.errors import ImageLoadError, shown_path

#: Largest image (rows × cols) that :func:`load_image` decodes, and so that import
#: accepts: 75 megapixels. Decoding takes about 13 MB per megapixel, but the annotation
#: window with every layer and the pre-label takes about 100 MB per megapixel plus
#: 0.3 GB (benchmarks/bench_large_image.py), so an image at this limit opens in about
#: 7.8 GB: within half of a 16 GB laptop. Pass ``max_pixels=`` to override it per call.
MAX_PIXELS: int = 75_000_000

#: The only formats SkinTrace decodes (Pillow's names). Never EPS, PDF or anything that
#: hands the file to an external program.
SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "TIFF", "BMP", "WEBP")

#: Smallest image side SkinTrace works on (import refuses smaller images): the GT
#: engine needs 2×2, and an annotator needs something to paint.
MIN_IMAGE_SIDE: int = 8

#: File suffixes of :data:`SUPPORTED_FORMATS` (what import and the batch tools look at).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})


def check_min_size(path: str | os.PathLike[str], rows: int, cols: int) -> None:
    """Raise ImageLoadError, with the minimum in the message, for an image too small to use."""
    if min(rows, cols) < MIN_IMAGE_SIDE:
        raise ImageLoadError(
            f"{shown_path(path)}: image is {cols}×{rows} pixels, smaller than the minimum of "
            f"{MIN_IMAGE_SIDE}×{MIN_IMAGE_SIDE}"
        )


#: The first bytes of every PNG file; checked before any ``cv2.imdecode`` of a PNG.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Longest a single decode may take before :func:`load_image` gives up on it, seconds.
#: The pixel budget bounds ordinary files far below this (100 MP decode in ~1-3 s);
#: it is the backstop for pathological ones. Pass ``max_seconds=`` to override it.
MAX_DECODE_SECONDS: float = 60.0

#: File signatures of formats people save under an image name by mistake, for the message.
_KNOWN_OTHERS = (
    (b"%!PS", "PostScript/EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"GIF8", "GIF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xffO\xffQ", "JPEG 2000"),
    (b"8BPS", "Photoshop PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML/SVG"),
)

_T = TypeVar("_T")

_EXIF_ORIENTATION = 0x0112
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, IndexError, KeyError)


@dataclass(frozen=True)
class LoadedImage:
    """An image decoded to RGB ``uint8``.

    Attributes
    ----------
    pixels : (M, N, 3) uint8 ndarray
        The image with EXIF orientation applied.
    bit_depth : int
        Bits per sample of the source (1, 8, 16 or 32).
    mode : str
        Source mode as Pillow names it, e.g. ``"L"``, ``"RGB"``, ``"RGBA"``, ``"I;16"``.
    path : Path
        The file it came from.
    """

    pixels: np.ndarray
    bit_depth: int
    mode: str
    path: Path


def _name(path: Path) -> str:
    return shown_path(path)


def _amount(pixels: int) -> str:
    """A pixel count for a message: megapixels when large, else the count."""
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels} pixels"


def _open_checked(path: Path, max_pixels: int) -> Image.Image:
    """Open ``path`` lazily (header only) and check existence, size and pixel count."""
    if not path.exists():
        raise ImageLoadError(f"{_name(path)}: file not found")
    if path.is_dir():
        raise ImageLoadError(f"{_name(path)}: is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"{_name(path)}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Our own limit below is the documented one; Pillow's warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path, formats=SUPPORTED_FORMATS)
    except Image.DecompressionBombError as exc:
        # Pillow refuses to even read the header of such files; its message is about
        # "DOS attacks", so say what a user needs: how big, and what the limit is.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{_amount(int(found.group(1)))}, " if found else ""
        limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0) or max_pixels)
        raise ImageLoadError(
            f"{_name(path)}: image is {size}over the limit of {_amount(limit)}; it was not decoded"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{_name(path)}: {_not_supported(path)}") from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(
            f"{_name(path)}: image is corrupt or truncated (header: {exc})"
        ) from exc
    cols, rows = im.size
    if rows * cols > max_pixels:
        im.close()
        raise ImageLoadError(
            f"{_name(path)}: image is {cols}×{rows} = {rows * cols / 1e6:.1f} MP, over the "
            f"limit of {max_pixels / 1e6:.1f} MP; it was not decoded"
        )
    if rows < 1 or cols < 1:
        im.close()
        raise ImageLoadError(f"{_name(path)}: image has no pixels ({cols}×{rows})")
    return im


def _not_supported(path: Path) -> str:
    """Why ``path`` was not decoded, naming its real format when it is a common one."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    found = next((name for magic, name in _KNOWN_OTHERS if head.startswith(magic)), None)
    what = f"is a {found} file" if found else "not a recognised image file"
    return f"{what}; only PNG, JPEG, TIFF, BMP and WebP are read"


def _within_budget(func: Callable[[], _T], path: Path, seconds: float | None) -> _T:
    """Run ``func`` in a helper thread; ImageLoadError if it takes over ``seconds``.

    A decoder in C cannot be interrupted, so an over-budget decode is abandoned: its
    thread finishes (or fails) on its own and its result is dropped.
    """
    if seconds is None:
        return func()
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"decode {path.name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise ImageLoadError(
            f"{_name(path)}: decoding took longer than {seconds:g} s; it was abandoned "
            "(is the file damaged or crafted?)"
        )
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def read_image_size(
    path: str | os.PathLike[str], *, max_pixels: int | None = None
) -> tuple[int, int]:
    """Return ``(rows, cols)`` of an image file, reading the header only.

    Parameters
    ----------
    path : path-like
        The image file.
    max_pixels : int, optional
        Refuse images with more pixels, as :func:`load_image` would (no limit if None).

    Raises
    ------
    ImageLoadError
        If the file is missing, empty, not a recognised image or over ``max_pixels``.
    """
    p = Path(path)
    limit = np.iinfo(np.int64).max if max_pixels is None else int(max_pixels)
    with _open_checked(p, max_pixels=limit) as im:
        cols, rows = im.size
    return rows, cols


def _is_16bit(im: Image.Image) -> bool:
    if im.mode.startswith("I;16"):
        return True
    for tile in getattr(im, "tile", None) or ():
        args = tile.args if hasattr(tile, "args") else tile[3]
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return True
    return False


def _scale16(a: np.ndarray) -> np.ndarray:
    """Scale 0..65535 samples to 0..255 with rounding."""
    a32 = a.astype(np.uint32)
    return ((a32 * 255 + 32767) // 65535).astype(np.uint8)


def _to_rgb3(a: np.ndarray) -> np.ndarray:
    """(M, N), (M, N, 1|2|3|4) uint8 → (M, N, 3) uint8; alpha is dropped."""
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] in (1, 2):
        return np.repeat(a[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def _decode_16bit_color(path: Path, fmt: str | None) -> np.ndarray:
    """Decode a 16-bit RGB(A) file at full precision (Pillow would keep only the high byte)."""
    if fmt not in ("TIFF", "PNG"):
        raise ValueError(f"16-bit colour {fmt} is not supported")
    if fmt == "TIFF":
        import tifffile

        arr = tifffile.imread(path)
        if arr.ndim == 3 and arr.shape[0] in (3, 4) and arr.shape[2] not in (3, 4):
            arr = np.moveaxis(arr, 0, 2)  # planar configuration
        return arr
    data = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ValueError("decoder returned no pixels")
    arr = np.asarray(decoded)
    if arr.ndim == 3 and arr.shape[2] >= 3:
        arr = arr[:, :, [2, 1, 0] + ([3] if arr.shape[2] == 4 else [])]
    return arr


def _apply_orientation(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1–8) to a row-major array, as Pillow's exif_transpose."""
    swap = (1, 0, 2) if a.ndim == 3 else (1, 0)
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.transpose(swap),
        6: lambda x: np.rot90(x, k=-1),
        7: lambda x: x.transpose(swap)[::-1, ::-1],
        8: lambda x: np.rot90(x, k=1),
    }
    op = ops.get(orientation)
    return a if op is None else np.ascontiguousarray(op(a))


def _bit_depth(mode: str, sixteen: bool) -> int:
    if sixteen:
        return 16
    if mode == "1":
        return 1
    if mode in ("I", "F"):
        return 32
    return 8


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int = MAX_PIXELS,
    max_seconds: float | None = MAX_DECODE_SECONDS,
) -> LoadedImage:
    """Load an image file as RGB ``uint8``.

    Parameters
    ----------
    path : path-like
        PNG, JPEG, TIFF, BMP or WebP file; gray, palette, RGB or RGBA; 8 or 16 bit.
    max_pixels : int, optional
        Refuse images with more than this many pixels (checked from the header
        before decoding). Default :data:`MAX_PIXELS`.
    max_seconds : float or None, optional
        Give up on a decode that takes longer (default :data:`MAX_DECODE_SECONDS`;
        None: no limit).

    Returns
    -------
    LoadedImage
        ``pixels`` is ``(M, N, 3) uint8`` with EXIF orientation applied.

    Raises
    ------
    ImageLoadError
        Naming the file, if it is missing, empty, not one of the
        :data:`SUPPORTED_FORMATS`, corrupt, truncated, in an unsupported pixel format,
        over the pixel limit or over the time budget.
    """
    p = Path(path)
    return _within_budget(lambda: _load_image(p, max_pixels), p, max_seconds)


def _load_image(p: Path, max_pixels: int) -> LoadedImage:
    im = _open_checked(p, max_pixels)
    with im:
        mode = im.mode
        sixteen = _is_16bit(im)
        if mode == "F":
            raise ImageLoadError(
                f"{_name(p)}: 32-bit float images are not supported; save it as 8 or 16 bit"
            )
        try:
            if sixteen and mode in ("RGB", "RGBA"):
                # Pillow keeps only the high byte of 16-bit colour; decode it ourselves.
                arr = _to_rgb3(_scale16(_decode_16bit_color(p, im.format)))
            else:
                # Decode before reading EXIF: PNG may store eXIf after the pixel data,
                # and a failed decode inside getexif() would otherwise be swallowed.
                im.load()
                if mode.startswith("I;16") or mode == "I":
                    arr = _to_rgb3(_scale16(np.clip(np.asarray(im), 0, 65535)))
                else:
                    arr = np.asarray(im.convert("RGB"))
        except (*_DECODE_ERRORS, MemoryError) as exc:
            raise ImageLoadError(f"{_name(p)}: image is corrupt or truncated ({exc})") from exc
        try:
            orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
        except _DECODE_ERRORS:
            orientation = 1
    arr = _apply_orientation(arr, orientation)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise ImageLoadError(f"{_name(p)}: unsupported pixel layout {arr.shape} {arr.dtype}")
    # A fresh C-contiguous array the caller owns (writeable, shared with nothing).
    pixels = np.require(arr, requirements=("C", "W", "O"))
    return LoadedImage(pixels=pixels, bit_depth=_bit_depth(mode, sixteen), mode=mode, path=p)


def encode_png(array: np.ndarray, *, compression: int = 3) -> bytes:
    """Encode ``(M, N)`` bool/uint8/uint16 or ``(M, N, 3|4)`` uint8 RGB(A) as PNG bytes.

    Boolean masks are written as 0/255.
    """
    a = np.asarray(array)
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * np.uint8(255)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"cannot save an array of shape {a.shape} as PNG; expected (M, N[, 3|4])")
    if a.size == 0:
        raise ValueError("cannot save an empty array as PNG")
    if a.dtype not in (np.uint8, np.uint16) or (a.ndim == 3 and a.dtype != np.uint8):
        raise ValueError(f"cannot save dtype {a.dtype} as PNG; use uint8 (or uint16 for gray)")
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2BGR if a.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", a, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise ValueError("PNG encoding failed")
    return buf.tobytes()


def save_png(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Save an array as PNG atomically (temp file in the same folder, then rename).

    Parameters
    ----------
    path : path-like
        Destination; its folder is created if needed.
    array : ndarray
        ``(M, N)`` bool (saved 0/255), uint8 or uint16, or ``(M, N, 3|4)`` uint8 RGB(A).
    """
    atomic_write_bytes(path, encode_png(array))


def _mask_values(im: Image.Image, p: Path) -> np.ndarray:
    """The raw sample values of an opened mask as ``(M, N)`` integers (max over colour)."""
    mode = im.mode
    if mode == "F":
        raise ImageLoadError(
            f"{_name(p)}: mask has floating-point values; save it as 8 or 16-bit integers "
            "(nonzero = painted)"
        )
    if mode in ("RGB", "RGBA") and _is_16bit(im):
        arr = np.asarray(_decode_16bit_color(p, im.format))  # Pillow keeps the high byte only
    else:
        im.load()
        if mode in ("1", "L", "P", "I", "LA", "RGB", "RGBA") or mode.startswith("I;16"):
            arr = np.asarray(im)
        else:  # CMYK, YCbCr, LAB, ...: compare in RGB
            arr = np.asarray(im.convert("RGB"))
    if arr.ndim == 3:
        color, alpha = (arr[..., :-1], arr[..., -1]) if arr.shape[2] in (2, 4) else (arr, None)
        flat = color.max(axis=2)
        if alpha is not None and not flat.any() and alpha.min() != alpha.max():
            raise ImageLoadError(
                f"{_name(p)}: mask is painted only in its alpha channel; save the painting "
                "as gray or colour values (nonzero = painted)"
            )
        arr = flat
    if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_:
        raise ImageLoadError(f"{_name(p)}: mask values of type {arr.dtype} cannot be read")
    return arr


def load_mask(
    path: str | os.PathLike[str],
    *,
    shape: tuple[int, int] | None = None,
    max_seconds: float | None = MAX_DECODE_SECONDS,
) -> np.ndarray:
    """Load a mask image as ``(M, N) bool``: any nonzero value is painted.

    The raw values are read at any integer depth: 1-bit, 8 and 16-bit gray (0/1,
    0/255, label values), palette images (nonzero index), 8 and 16-bit RGB(A) (nonzero
    in any colour channel). EXIF orientation is applied, as for its image.

    Parameters
    ----------
    path : path-like
        The mask image (PNG, JPEG, TIFF, BMP or WebP).
    shape : (int, int), optional
        Expected ``(rows, cols)``; a mismatch raises :class:`ImageLoadError`.
    max_seconds : float or None, optional
        Time budget of the decode, as for :func:`load_image`.

    Raises
    ------
    ImageLoadError
        Naming the file: unreadable as an image (see :func:`load_image`), values that
        are not integers (floating point), painting only in the alpha channel, or the
        wrong size. Never an empty mask in place of the painting.
    """
    p = Path(path)

    def decode() -> np.ndarray:
        with _open_checked(p, MAX_PIXELS) as im:
            try:
                values = _mask_values(im, p)
            except (*_DECODE_ERRORS, MemoryError) as exc:
                raise ImageLoadError(f"{_name(p)}: mask is corrupt or truncated ({exc})") from exc
            try:
                orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1) or 1)
            except _DECODE_ERRORS:
                orientation = 1
        return _apply_orientation(values != 0, orientation)

    mask = _within_budget(decode, p, max_seconds)
    if shape is not None and tuple(mask.shape) != tuple(shape):
        raise ImageLoadError(
            f"{_name(p)}: mask is {mask.shape[1]}×{mask.shape[0]}, "
            f"expected {shape[1]}×{shape[0]} (cols×rows) to match its image"
        )
    return np.ascontiguousarray(mask)
