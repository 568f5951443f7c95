"""View-only skin filters for the image layer: they help see 1-5 px texture, never change data.

* ``"colour"`` — the image as it is;
* ``"gray"`` — BT.601 luma (:func:`core.gt.texture.to_gray`, what the texture maps see);
* ``"green"`` — the green channel, where skin texture usually has the most contrast
  (haemoglobin absorbs green, so pores and creases read darker than in red);
* ``"clahe"`` — contrast-limited adaptive histogram equalisation (OpenCV CLAHE) of the
  lightness channel (CIE L*a*b*), colours kept: fine texture pops out in flat light.

Every view returns a new ``(M, N, 3) uint8`` RGB array for display; the texture maps and
GT are always computed from the original image.
"""

from __future__ import annotations

from typing import Literal, get_args

import cv2
import numpy as np

from core.errors import SkinTraceError
from core.gt.texture import to_gray

ViewName = Literal["colour", "gray", "green", "clahe"]
VIEWS: tuple[ViewName, ...] = get_args(ViewName)
#: Titles for menus.
VIEW_TITLES: dict[str, str] = {
    "colour": "Colour",
    "gray": "Gray",
    "green": "Green channel",
    "clahe": "Contrast (CLAHE)",
}


class ViewError(SkinTraceError, ValueError):
    """An unknown view or bad view options."""


def skin_view(
    image: np.ndarray, view: str, *, clip_limit: float = 2.0, tiles: int = 8
) -> np.ndarray:
    """The image as shown in ``view``.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray
        RGB image (not changed).
    view : {"colour", "gray", "green", "clahe"}
    clip_limit : float, keyword-only
        CLAHE contrast limit (> 0; OpenCV's meaning).
    tiles : int, keyword-only
        CLAHE tiles along each side (>= 1).

    Returns
    -------
    (M, N, 3) uint8 ndarray
        A new array (a copy for ``"colour"``).
    """
    if view not in VIEWS:
        raise ViewError(f"unknown image view {view!r}; choose one of {', '.join(VIEWS)}")
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ViewError(f"views need an (M, N, 3) uint8 image; got {img.shape} {img.dtype}")
    if view == "colour":
        return img.copy()
    if view == "gray":
        g = np.clip(np.rint(to_gray(img)), 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if view == "green":
        return np.repeat(img[:, :, 1:2], 3, axis=2)
    if not (clip_limit > 0) or int(tiles) < 1:
        raise ViewError(f"CLAHE needs clip_limit > 0 and tiles >= 1; got {clip_limit}, {tiles}")
    lab = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tiles), int(tiles)))
    lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
