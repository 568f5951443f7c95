"""Alignment to the paper's frame: a similarity crop framed on the face.

The canonical crop (768×640 by default, Section 4.1 of the paper) puts the eye centres on
one row at :data:`EYE_ROW` of the height, :data:`EYE_SPAN` of the width apart and centred,
so the forehead, the eyes and the butterfly zone fill it. Only rotation, one scale and a
translation are used (faces keep their proportions). :class:`AlignTransform` keeps the map
both ways: annotation happens in the crop, and masks or GT can be mapped back onto the
original photo (nearest neighbour, exact to 1 px).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.atomic import atomic_write_text
from core.face.landmarks import Face, FaceError
from core.formats import read_versioned_json
from core.imageio import IMAGE_SUFFIXES
from core.progress import CancelToken, Progress

#: (rows, cols) of the paper's crop ("768×640").
CROP_SHAPE: tuple[int, int] = (640, 768)
#: Row of the eye centres, as a fraction of the crop height.
EYE_ROW = 0.42
#: Distance between the eye centres, as a fraction of the crop width.
EYE_SPAN = 0.42
FORMAT = "skintrace-alignment"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AlignTransform:
    """original image ``(col, row)`` → crop ``(col, row)``: ``crop = A @ [col, row, 1]``."""

    matrix: tuple[tuple[float, float, float], tuple[float, float, float]]
    crop_shape: tuple[int, int]
    original_shape: tuple[int, int]

    @property
    def a(self) -> np.ndarray:
        return np.array(self.matrix, dtype=np.float64)

    @property
    def inverse(self) -> np.ndarray:
        """2×3 map crop ``(col, row)`` → original ``(col, row)``."""
        return cv2.invertAffineTransform(self.a)

    @property
    def scale(self) -> float:
        """Crop pixels per original pixel."""
        return float(math.hypot(*self.a[0, :2]))

    def to_crop(self, points_rc: np.ndarray) -> np.ndarray:
        """``(K, 2)`` original ``(row, col)`` → crop ``(row, col)``."""
        return _apply(self.a, points_rc)

    def to_original(self, points_rc: np.ndarray) -> np.ndarray:
        """``(K, 2)`` crop ``(row, col)`` → original ``(row, col)``."""
        return _apply(self.inverse, points_rc)

    def crop_image(self, image: np.ndarray) -> np.ndarray:
        """The crop of an ``(M, N[, C])`` image (area-filtered when it shrinks; zero outside)."""
        a = self.a.copy()
        src = image
        factor = int(1.0 / self.scale) if self.scale < 0.5 else 1
        if factor > 1:  # reduce first: warpAffine alone would alias
            m, n = image.shape[:2]
            src = cv2.resize(image, (n // factor, m // factor), interpolation=cv2.INTER_AREA)
            # small pixel j covers original pixels f*j .. f*j+f-1: centre f*j + (f-1)/2
            a[:, :2] *= factor
            a[:, 2] += self.a[:, :2] @ np.full(2, (factor - 1) / 2.0)
        rows, cols = self.crop_shape
        return cv2.warpAffine(src, a, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip

    def crop_map(self, array: np.ndarray) -> np.ndarray:
        """A mask or GT map of the original, carried into the crop (nearest neighbour)."""
        rows, cols = self.crop_shape
        return _warp_nearest(array, self.a, (rows, cols))

    def map_back(self, array: np.ndarray) -> np.ndarray:
        """A mask or GT map of the crop, carried onto the original photo (nearest neighbour)."""
        return _warp_nearest(array, self.inverse, self.original_shape)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matrix": [list(r) for r in self.matrix],
            "crop_rows": self.crop_shape[0],
            "crop_cols": self.crop_shape[1],
            "original_rows": self.original_shape[0],
            "original_cols": self.original_shape[1],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlignTransform:
        try:
            mat = tuple(tuple(float(v) for v in row) for row in d["matrix"])
            if len(mat) != 2 or any(len(r) != 3 for r in mat):
                raise ValueError("matrix is not 2×3")
            return cls(
                mat,  # type: ignore[arg-type]
                (int(d["crop_rows"]), int(d["crop_cols"])),
                (int(d["original_rows"]), int(d["original_cols"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FaceError(f"alignment transform is malformed ({exc}); align the image again") from None  # fmt: skip


def _apply(a: np.ndarray, points_rc: np.ndarray) -> np.ndarray:
    p = np.asarray(points_rc, dtype=np.float64).reshape(-1, 2)
    xy = p[:, ::-1] @ a[:, :2].T + a[:, 2]
    return xy[:, ::-1]


def _warp_nearest(array: np.ndarray, a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(array)
    src = arr.astype(np.uint8) if arr.dtype == bool else arr
    out = cv2.warpAffine(src, a, (int(shape[1]), int(shape[0])), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
    return out.astype(bool) if arr.dtype == bool else out


def alignment_for(
    face: Face, original_shape: tuple[int, int], *, crop_shape: Sequence[int] = CROP_SHAPE
) -> AlignTransform:
    """The similarity that frames ``face`` in a crop of ``crop_shape`` ``(rows, cols)``."""
    rows, cols = int(crop_shape[0]), int(crop_shape[1])
    if rows < 16 or cols < 16:
        raise FaceError(f"crop size {cols}×{rows} is too small; use at least 16×16")
    src = np.array([face.right_eye[::-1], face.left_eye[::-1]], dtype=np.float64)  # (col, row)
    span = EYE_SPAN * cols
    dst = np.array([[cols / 2 - span / 2, EYE_ROW * rows], [cols / 2 + span / 2, EYE_ROW * rows]])  # fmt: skip
    v_src, v_dst = src[1] - src[0], dst[1] - dst[0]
    d = float(np.hypot(*v_src))
    if d < 2:
        raise FaceError("the eyes are too close to align the face; place the face by hand")
    scale = float(np.hypot(*v_dst)) / d
    angle = math.atan2(v_dst[1], v_dst[0]) - math.atan2(v_src[1], v_src[0])
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    t = dst[0] - rot @ src[0]
    mat = ((c, -s, float(t[0])), (s, c, float(t[1])))
    return AlignTransform(mat, (rows, cols), (int(original_shape[0]), int(original_shape[1])))


def transform_file(folder: str | Path, stem: str) -> Path:
    return Path(folder) / f"{stem}.json"


def save_transform(path: str | Path, t: AlignTransform, *, original: str, face: Face) -> None:
    """Write a crop's transform (with its original photo and face) atomically."""
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "original": original,
           **t.to_dict(), "face": face.to_dict()}  # fmt: skip
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def load_transform(path: str | Path) -> tuple[AlignTransform, str]:
    """A crop's transform and the path of its original photo."""
    data = read_versioned_json(
        Path(path), format_name=FORMAT, version=FORMAT_VERSION, error=FaceError,
        kind="SkinTrace alignment folder", advice="align the images again",
    )  # fmt: skip
    return AlignTransform.from_dict(data), str(data.get("original", ""))


def align_folder(
    src: str | Path,
    out: str | Path,
    *,
    crop_shape: Sequence[int] = CROP_SHAPE,
    files: Sequence[Path] | None = None,
    detect: Any = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Crop every face photo of ``src`` into ``out/crops/`` with transforms in ``out/transforms/``.

    Crops keep the photo's relative path (as PNG); a photo without one usable face is
    skipped and listed. Last ``Progress.info``: ``aligned``, ``skipped`` (``[(name, reason)]``).
    """
    from core.errors import ImageLoadError, SkinTraceError
    from core.face.landmarks import detect_faces
    from core.imageio import load_image, save_png

    detect = detect or detect_faces
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise FaceError(f"{src} is not a folder of photos")
    names = list(files) if files is not None else sorted(
        p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and out not in p.parents
    )  # fmt: skip
    aligned, skipped = 0, []
    for i, path in enumerate(names):
        if cancel is not None:
            cancel.raise_if_cancelled()
        rel = path.relative_to(src)
        try:
            pixels = load_image(path).pixels
            result = detect(pixels)
            if result.face is None or result.state == "profile":
                skipped.append((rel.as_posix(), result.message))
            else:
                t = alignment_for(result.face, pixels.shape[:2], crop_shape=crop_shape)
                stem = rel.with_suffix("").as_posix()
                save_png(out / "crops" / f"{stem}.png", t.crop_image(pixels))
                save_transform(out / "transforms" / f"{stem}.json", t, original=str(path.resolve()), face=result.face)  # fmt: skip
                aligned += 1
        except (ImageLoadError, SkinTraceError) as exc:
            skipped.append((rel.as_posix(), str(exc)))
        yield Progress(i + 1, len(names), f"aligned {rel.as_posix()}")
    yield Progress(len(names), len(names), "done", info={"aligned": aligned, "skipped": skipped, "crops": str(out / "crops")})  # fmt: skip
