"""Per-zone measurements of wrinkles and pores (GT or pre-label maps).

Wrinkles: area % of the zone, total length (of the scikit-image ``skeletonize``
skeleton, :func:`skeleton_length`), mean width (area / length),
mean depth (mean GT magnitude 0-255 of the wrinkle pixels). Pores: count (8-connected
regions, scikit-image ``label``), density (per cm² with a scale, per 10 000 px² without),
mean area. Lengths, widths and areas are in mm / mm² when a scale is known, in pixels
otherwise (``unit`` says which).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
from skimage.measure import label, regionprops
from skimage.morphology import skeletonize

#: The measures, in report order, with their titles (unit filled in by :func:`measure_titles`).
MEASURES: dict[str, str] = {
    "wrinkle_area_pct": "Wrinkle area (%)",
    "wrinkle_length": "Wrinkle length ({len})",
    "wrinkle_width": "Mean wrinkle width ({len})",
    "wrinkle_depth": "Mean wrinkle depth (0-255)",
    "pore_count": "Pores",
    "pore_density": "Pore density ({dens})",
    "pore_area": "Mean pore area ({area})",
}


@dataclass(frozen=True)
class ZoneMeasurement:
    """The measures of one zone of one image (NaN where undefined, e.g. no wrinkle)."""

    zone: str
    zone_area: float
    wrinkle_area_pct: float
    wrinkle_length: float
    wrinkle_width: float
    wrinkle_depth: float
    pore_count: int
    pore_density: float
    pore_area: float
    unit: str  # "px" or "mm"

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def measure_titles(unit: str) -> dict[str, str]:
    """:data:`MEASURES` with units filled in."""
    if unit == "mm":
        fill = {"len": "mm", "dens": "per cm²", "area": "mm²"}
    else:
        fill = {"len": "px", "dens": "per 10⁴ px²", "area": "px²"}
    return {k: v.format(**fill) for k, v in MEASURES.items()}


def skeleton_length(mask: np.ndarray) -> float:
    """Length in pixels of the skeleton of a binary mask.

    The skeleton is read as a chain of links between 8-neighbours (a diagonal link only
    where the two pixels share no 4-neighbour in the skeleton) and measured with
    Vossepoel and Smeulders' corner-count estimator, ``0.980 n_e + 1.406 n_o - 0.091 n_c``
    (``n_e`` straight links, ``n_o`` diagonal links, ``n_c`` changes of direction), whose
    error stays within about 1 % at every orientation; plain chain counting (1 and √2)
    over-measures slanted lines by up to 8 %.
    """
    sk = skeletonize(np.asarray(mask, dtype=bool))
    if not sk.any():
        return 0.0
    s = np.pad(sk, 1)
    m, n = sk.shape

    def at(dr: int, dc: int) -> np.ndarray:
        return s[1 + dr : 1 + dr + m, 1 + dc : 1 + dc + n]

    c = at(0, 0)
    links: dict[tuple[int, int], np.ndarray] = {}
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        links[(dr, dc)] = c & at(dr, dc)
    for dr, dc in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        links[(dr, dc)] = c & at(dr, dc) & ~at(dr, 0) & ~at(0, dc)
    n_even = sum(int(links[d].sum()) for d in ((0, 1), (1, 0)))
    n_odd = sum(int(links[d].sum()) for d in ((1, 1), (1, -1)))
    degree = sum(v.astype(np.int8) for v in links.values())
    straight = np.zeros_like(c)
    for (dr, dc), v in links.items():
        straight |= v & links[(-dr, -dc)]
    n_corner = int((c & (degree == 2) & ~straight).sum())
    return 0.980 * n_even + 1.406 * n_odd - 0.091 * n_corner


def measure_zone(
    zone: str,
    zone_mask: np.ndarray,
    wrinkle: np.ndarray,
    pore: np.ndarray,
    *,
    px_per_mm: float | None = None,
) -> ZoneMeasurement:
    """Measure one zone.

    Parameters
    ----------
    zone : str
        Its name.
    zone_mask : (M, N) bool ndarray
        Where the zone is.
    wrinkle, pore : (M, N) uint8 ndarray
        GT (or pre-label) magnitude maps; a pixel is a wrinkle / pore where > 0.
    px_per_mm : float, optional
        Scale; without it everything is in pixels.
    """
    z = np.asarray(zone_mask, dtype=bool)
    area_px = float(z.sum())
    k = 1.0 if px_per_mm is None else 1.0 / float(px_per_mm)  # mm per pixel
    nan = float("nan")
    w = (np.asarray(wrinkle) > 0) & z
    w_px = float(w.sum())
    length_px = skeleton_length(w) if w_px else 0.0
    depth = float(np.asarray(wrinkle)[w].mean()) if w_px else nan
    width = w_px / length_px * k if length_px > 0 else nan
    p = (np.asarray(pore) > 0) & z
    lab = label(p, connectivity=2)
    areas = [r.area for r in regionprops(lab)]
    count = len(areas)
    if px_per_mm is None:
        density = count / area_px * 1e4 if area_px else nan
    else:
        density = count / (area_px * k * k / 100.0) if area_px else nan  # per cm²
    return ZoneMeasurement(
        zone=zone,
        zone_area=area_px * k * k,
        wrinkle_area_pct=100.0 * w_px / area_px if area_px else nan,
        wrinkle_length=length_px * k,
        wrinkle_width=width,
        wrinkle_depth=depth,
        pore_count=count,
        pore_density=density,
        pore_area=float(np.mean(areas)) * k * k if areas else nan,
        unit="px" if px_per_mm is None else "mm",
    )


def measure_image(
    maps: Mapping[str, np.ndarray],
    zones: Mapping[str, np.ndarray],
    *,
    px_per_mm: float | None = None,
    names: Iterable[str] | None = None,
) -> list[ZoneMeasurement]:
    """Measure every zone (in ``names`` order, default all) of one image's maps."""
    wrinkle, pore = maps["wrinkle"], maps["pore"]
    out = []
    for name in names if names is not None else zones:
        out.append(measure_zone(name, zones[name], wrinkle, pore, px_per_mm=px_per_mm))
    return out
