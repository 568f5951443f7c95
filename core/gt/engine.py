"""Ground truth: thresholded texture map × rough mask (paper Section 3.1, Figure 1b).

Per class, ``GT = clip(rint(gain × T), 1, 255)`` where ``T > threshold`` and the rough
mask is set, else 0, as a ``uint8`` magnitude map; its binary mask is ``GT > 0``.
Every kept pixel is at least 1, so the binary mask is exactly "texture above
threshold inside the rough mask". GT is pointwise in (texture, rough), which is what
makes the incremental update of :mod:`core.gt.document` exact.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.classes import CLASSES, ClassName, check_class
from core.errors import SkinTraceError
from core.gt.texture import (
    DEFAULT_SIGMA,
    apply_auto_wrinkle_threshold,
    auto_pore_threshold,
    expand_pyramid,
    gaussian_pyramid,
    pore_response,
    threshold_pore_response,
    to_gray,
    working_level,
    wrinkle_texture_from_gray,
)

#: Fixed threshold on the Eq. 1 map (0–255) of projects made before calibrated thresholds
#: (GTParams now defaults to None: calibrated per image).
DEFAULT_WRINKLE_THRESHOLD: float = 20.0
#: Gain from Eq. 1 values to GT magnitude (Eq. 1 is already on 0–255).
DEFAULT_WRINKLE_GAIN: float = 1.0
#: Gain from Eq. 2 values (a few gray levels) to GT magnitude, so pores use the 0–255 range.
DEFAULT_PORE_GAIN: float = 4.0


class GTParamsError(SkinTraceError, ValueError):
    """GT parameters are out of range or do not match the texture maps given."""


#: How a threshold that follows each image is written in ``to_dict`` / accepted by ``from_dict``.
AUTO = "auto"


def _check_range(name: str, value: Any, lo: float, hi: float, *, lo_open: bool) -> float:
    if isinstance(value, bool):
        raise GTParamsError(f"{name} must be a number; got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GTParamsError(f"{name} must be a number; got {value!r}") from None
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        raise GTParamsError(f"{name} must be in {bracket}{lo:g}, {hi:g}]; got {value!r}")
    return v


@dataclass(frozen=True)
class GTParams:
    """Parameters of GT generation for one image (project default or per-image override).

    A threshold of ``None`` (the default; written ``"auto"`` by :meth:`to_dict`) is
    calibrated on each image by a rule that reads only the image, so GT stays pointwise
    in (texture map, rough mask); a number is a fixed threshold, as in older projects.

    Attributes
    ----------
    sigma : float
        σ of the Eq. 1 Gaussian in pixels of the working level
        (:func:`core.gt.texture.working_level`), in (0, 100].
    wrinkle_threshold : float or None
        Eq. 1 values at or below this (0–255 scale) are not wrinkle, in [0, 255]; None:
        per pixel, 40 % of the local peak of Eq. 1, between 8 and 20
        (:func:`core.gt.texture.auto_wrinkle_threshold_map`).
    pore_threshold : float or None
        ``Th`` of Eq. 2 in gray levels, in [0, 255]; None: 0.3 × the 99th percentile of
        this image's Eq. 2 response (:func:`core.gt.texture.auto_pore_threshold`).
    wrinkle_gain : float
        GT magnitude = ``gain × T`` for wrinkles, in (0, 255].
    pore_gain : float
        GT magnitude = ``gain × T`` for pores, in (0, 255] (pore ``t`` is a few gray levels).
    """

    sigma: float = DEFAULT_SIGMA
    wrinkle_threshold: float | None = None
    pore_threshold: float | None = None
    wrinkle_gain: float = DEFAULT_WRINKLE_GAIN
    pore_gain: float = DEFAULT_PORE_GAIN

    def __post_init__(self) -> None:
        checks = {
            "sigma": (0.0, 100.0, True),
            "wrinkle_threshold": (0.0, 255.0, False),
            "pore_threshold": (0.0, 255.0, False),
            "wrinkle_gain": (0.0, 255.0, True),
            "pore_gain": (0.0, 255.0, True),
        }
        for name in AUTO_FIELDS:
            value = getattr(self, name)
            if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
                object.__setattr__(self, name, None)
                del checks[name]
            elif isinstance(value, str):
                try:
                    float(value)
                except ValueError:
                    raise GTParamsError(
                        f"{name} must be a number in [0, 255] or 'auto'; got {value!r}"
                    ) from None
        for name, (lo, hi, lo_open) in checks.items():
            v = _check_range(name, getattr(self, name), lo, hi, lo_open=lo_open)
            object.__setattr__(self, name, v)

    def is_auto(self, cls_name: str) -> bool:
        """True if the class's threshold is calibrated per image."""
        return self.threshold(cls_name) is None

    def to_dict(self) -> dict[str, float | str]:
        """Plain JSON-ready dict of all fields (a calibrated threshold is ``"auto"``)."""
        return {k: (AUTO if v is None else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GTParams:
        """Build from a dict; unknown keys are ignored, missing keys take defaults.

        Thresholds may be numbers, ``"auto"`` or ``None`` (calibrated per image); numbers
        stored by older projects stay fixed thresholds.

        Raises
        ------
        GTParamsError
            If a value is out of range or not a number.
        """
        if not isinstance(d, Mapping):
            raise GTParamsError(f"GT parameters must be a mapping; got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def threshold(self, cls_name: str) -> float | None:
        """GT threshold of a class as set (None: calibrated, see :meth:`TextureMaps.chosen`)."""
        return self.wrinkle_threshold if check_class(cls_name) == "wrinkle" else self.pore_threshold

    def gain(self, cls_name: str) -> float:
        """GT gain of a class."""
        return self.wrinkle_gain if check_class(cls_name) == "wrinkle" else self.pore_gain


#: The GTParams fields that accept None / "auto".
AUTO_FIELDS: tuple[str, ...] = ("wrinkle_threshold", "pore_threshold")


@dataclass(frozen=True, eq=False)
class TextureMaps:
    """Texture maps of one image for one parameter set (read-only arrays).

    Attributes
    ----------
    wrinkle : (M, N) float32 ndarray
        Eq. 1 map for ``sigma``: unthresholded with a fixed wrinkle threshold, zero at
        or below the per-pixel calibrated threshold when it is None.
    pore : (M, N) float32 ndarray
        Eq. 2 map thresholded at ``pore_used``.
    sigma : float
        σ they were computed with.
    wrinkle_auto : bool
        True if ``wrinkle`` holds the calibrated threshold already.
    pore_threshold : float or None
        The ``pore_threshold`` parameter they were computed with (None: calibrated).
    pore_used : float
        The Eq. 2 threshold applied: the fixed value, or the one calibrated for the image.
    wrinkle_typical : float
        With ``wrinkle_auto``, the median calibrated threshold over line candidates
        (Eq. 1 above 8): what the GT panel shows. Else 0.
    level : int
        Pyramid level the filters ran at (:func:`core.gt.texture.working_level`).
    """

    wrinkle: np.ndarray
    pore: np.ndarray
    sigma: float
    pore_threshold: float | None
    pore_used: float
    wrinkle_auto: bool = False
    wrinkle_typical: float = 0.0
    level: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.wrinkle.shape[0]), int(self.wrinkle.shape[1]))

    def __getitem__(self, cls_name: str) -> np.ndarray:
        return self.wrinkle if check_class(cls_name) == "wrinkle" else self.pore

    def matches(self, params: GTParams) -> bool:
        """True if these maps were computed with ``params``' σ and thresholds' modes."""
        return (
            self.sigma == params.sigma
            and self.pore_threshold == params.pore_threshold
            and self.wrinkle_auto == params.is_auto("wrinkle")
        )

    def threshold(self, cls_name: str, params: GTParams) -> float:
        """The threshold :func:`gt_from_rough` applies on ``self[cls_name]`` for ``params``.

        A calibrated wrinkle threshold is already in the map (0 here); the pore map is
        thresholded at ``pore_used``.
        """
        if check_class(cls_name) == "wrinkle":
            return 0.0 if params.wrinkle_threshold is None else params.wrinkle_threshold
        return self.pore_used

    def chosen(self, cls_name: str, params: GTParams) -> float:
        """The threshold in force for the user: fixed, or what the rule chose here
        (for wrinkles the typical value of the per-pixel rule)."""
        if check_class(cls_name) == "wrinkle":
            if params.wrinkle_threshold is None:
                return self.wrinkle_typical
            return params.wrinkle_threshold
        return self.pore_used


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def compute_textures(
    image: np.ndarray, params: GTParams, *, reuse: TextureMaps | None = None
) -> TextureMaps:
    """Compute both texture maps of ``image`` for ``params``.

    Parameters
    ----------
    image : (M, N[, C]) ndarray
        See :func:`core.gt.texture.to_gray` for accepted dtypes and channels.
    params : GTParams
        Uses ``sigma`` (Eq. 1) and the thresholds' modes; calibrated thresholds are
        computed here, once per image, from the maps themselves.
    reuse : TextureMaps, optional
        Maps of the same image; a map whose parameters did not change is reused
        instead of recomputed.

    Returns
    -------
    TextureMaps
        Filtered at :func:`core.gt.texture.working_level` of the image's size.
    """
    level = working_level(np.shape(image))
    gray: np.ndarray | None = None
    pyramid: list[np.ndarray] | None = None

    def levels() -> tuple[np.ndarray, list[np.ndarray] | None]:
        nonlocal gray, pyramid
        if gray is None:
            gray = to_gray(image)
            pyramid = gaussian_pyramid(gray, level) if level > 0 else None
        return gray, pyramid

    w_auto = params.is_auto("wrinkle")
    if (
        reuse is not None
        and reuse.sigma == params.sigma
        and reuse.wrinkle_auto == w_auto
        and reuse.level == level
    ):
        wrinkle, typical = reuse.wrinkle, reuse.wrinkle_typical
    else:
        g, pyr = levels()
        w = wrinkle_texture_from_gray(g, sigma=params.sigma, level=level, pyramid=pyr)
        typical = 0.0
        if w_auto:
            w, typical = apply_auto_wrinkle_threshold(w, level=level, inplace=True)
        wrinkle = _readonly(w)
    if reuse is not None and reuse.pore_threshold == params.pore_threshold and reuse.level == level:
        pore, used = reuse.pore, reuse.pore_used
    else:
        g, pyr = levels()
        # at level > 0 the calibration reads the level's own response (4^level fewer pixels)
        small = pore_response(pyr[level]) if pyr is not None else pore_response(g)
        used = (
            auto_pore_threshold(small) if params.pore_threshold is None else params.pore_threshold
        )
        t = expand_pyramid(small, pyr) if pyr is not None else small
        pore = _readonly(threshold_pore_response(t, threshold=used, inplace=True))
    return TextureMaps(
        wrinkle=wrinkle,
        pore=pore,
        sigma=params.sigma,
        pore_threshold=params.pore_threshold,
        pore_used=float(used),
        wrinkle_auto=w_auto,
        wrinkle_typical=float(typical),
        level=level,
    )


def texture_steps(textures: TextureMaps | None, params: GTParams) -> list[tuple[str, GTParams]]:
    """The texture-map computations that turn ``textures`` into maps for ``params``.

    Each step is ``(what, step_params)`` for ``compute_textures(image, step_params,
    reuse=previous)``: all maps when there are none, only the wrinkle map for a new σ (or
    wrinkle mode), only the pore map for a new pore threshold; empty when nothing changes.
    """
    if textures is None:
        return [("texture maps", params)]
    steps: list[tuple[str, GTParams]] = []
    if textures.sigma != params.sigma or textures.wrinkle_auto != params.is_auto("wrinkle"):
        # New sigma (or wrinkle mode), old pore threshold: only the wrinkle map.
        steps.append(
            ("wrinkle texture map", replace(params, pore_threshold=textures.pore_threshold))
        )
    if textures.pore_threshold != params.pore_threshold:
        steps.append(("pore texture map", params))
    return steps


def gt_from_rough(
    texture: np.ndarray, rough: np.ndarray, *, threshold: float, gain: float = 1.0
) -> np.ndarray:
    """GT magnitude of one class: ``clip(rint(gain × T), 1, 255)`` where ``T > threshold`` and rough.

    Parameters
    ----------
    texture : (M, N) float ndarray
        A texture map (Eq. 1 or Eq. 2).
    rough : (M, N) bool ndarray
        The annotator's rough mask.
    threshold : float
        Texture values at or below it are dropped.
    gain : float, optional
        Scale from texture values to magnitude.

    Returns
    -------
    gt : (M, N) uint8 ndarray
        0 outside the rough mask and where the texture is at or below the threshold,
        else 1–255.
    """
    if not isinstance(threshold, (int, float, np.floating, np.integer)) or isinstance(
        threshold, bool
    ):
        raise GTParamsError(
            f"threshold must be a number, got {threshold!r}; for a calibrated ('auto') "
            "threshold pass TextureMaps.threshold(cls, params)"
        )
    t = np.asarray(texture)
    r = np.asarray(rough)
    if t.ndim != 2 or r.shape != t.shape:
        raise GTParamsError(
            f"texture {t.shape} and rough mask {r.shape} must be 2-D arrays of the same shape"
        )
    keep = t > np.float32(threshold)
    if r.dtype != np.bool_:
        r = r != 0
    keep &= r
    mag = t * np.float32(gain)
    np.rint(mag, out=mag)
    np.clip(mag, 1.0, 255.0, out=mag)
    out = mag.astype(np.uint8)
    out[~keep] = 0
    return out


def compute_gt(
    image_or_textures: np.ndarray | TextureMaps,
    rough: Mapping[str, np.ndarray],
    params: GTParams,
) -> dict[ClassName, np.ndarray]:
    """GT magnitude maps of both classes.

    Parameters
    ----------
    image_or_textures : (M, N[, C]) ndarray or TextureMaps
        The image (texture maps are computed) or maps computed with ``params``.
    rough : mapping of class name to (M, N) bool ndarray
        Rough masks; a missing class gives an all-zero GT.
    params : GTParams

    Returns
    -------
    dict
        ``{"wrinkle": (M, N) uint8, "pore": (M, N) uint8}``; binary mask = ``gt > 0``.
    """
    if isinstance(image_or_textures, TextureMaps):
        tex = image_or_textures
        if not tex.matches(params):
            th = AUTO if tex.pore_threshold is None else f"{tex.pore_threshold:g}"
            wt = AUTO if tex.wrinkle_auto else "fixed"
            raise GTParamsError(
                f"texture maps were computed with sigma={tex.sigma:g}, pore_threshold="
                f"{th}, wrinkle threshold {wt}, not the parameters given; recompute them"
            )
    else:
        tex = compute_textures(image_or_textures, params)
    for name in rough:
        check_class(name)
    out: dict[ClassName, np.ndarray] = {}
    for name in CLASSES:
        mask = rough.get(name)
        if mask is None:
            out[name] = np.zeros(tex.shape, dtype=np.uint8)
            continue
        out[name] = gt_from_rough(
            tex[name], mask, threshold=tex.threshold(name, params), gain=params.gain(name)
        )
    return out
