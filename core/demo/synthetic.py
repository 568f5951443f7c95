"""Seeded synthetic face-crop images with known wrinkle and pore masks.

A synthetic face is laid out like the paper's crops (forehead, eyes, nose, cheeks;
768×640 by default) and drawn in normalised coordinates, so any size works. It holds:

* labelled structures — forehead, glabella, crow's-feet and under-eye wrinkles (dark
  thin curved lines of varying thickness and depth) and pores (small dark blobs) on
  the cheeks and nose; their exact pixel masks are known;
* distractors that look like them locally but are **not** labelled — eyebrows, eyes and
  eyelid creases, moles, pore-like dots outside the cheeks and nose, hair strands;
* skin-toned shading, low-frequency colour variation and fine skin noise.

:func:`simulate_annotator` turns the known masks into what a human paints: dilated,
wobbly rough masks that miss some structures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from core.classes import ClassName

#: Default shape ``(rows, cols)`` of a synthetic face: the paper's 768×640 crop.
DEFAULT_SHAPE: tuple[int, int] = (640, 768)

_SHIFT = 4  # sub-pixel bits for OpenCV drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True, eq=False)
class SyntheticFace:
    """A synthetic face crop with known masks (all arrays read-only).

    Attributes
    ----------
    image : (M, N, 3) uint8 ndarray
        RGB image.
    wrinkle, pore : (M, N) bool ndarray
        Known masks of the labelled structures.
    rough_wrinkle, rough_pore : (M, N) bool ndarray
        A simulated annotator's rough masks (:func:`simulate_annotator` with ``seed + 1``).
    regions : dict of str to (M, N) bool ndarray
        ``forehead``, ``glabella``, ``eyes``, ``nose``, ``cheeks``, plus the unions
        ``wrinkle_zone`` and ``pore_zone`` where the labelled structures live.
    seed : int
        The seed it was made from.
    """

    image: np.ndarray
    wrinkle: np.ndarray
    pore: np.ndarray
    rough_wrinkle: np.ndarray
    rough_pore: np.ndarray
    regions: dict[str, np.ndarray] = field(default_factory=dict)
    seed: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.image.shape[0]), int(self.image.shape[1]))

    @property
    def masks(self) -> dict[ClassName, np.ndarray]:
        """Known masks by class name."""
        return {"wrinkle": self.wrinkle, "pore": self.pore}

    @property
    def rough(self) -> dict[ClassName, np.ndarray]:
        """Rough masks by class name."""
        return {"wrinkle": self.rough_wrinkle, "pore": self.rough_pore}


def _pts(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Float (row, col) arrays → OpenCV fixed-point (x, y) int32 points."""
    return np.round(np.stack([cols, rows], axis=1) * _ONE).astype(np.int32)


class _Canvas:
    """Layers a face is drawn into; everything is composed once at the end."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.m, self.n = shape
        self.scale = min(self.m / DEFAULT_SHAPE[0], self.n / DEFAULT_SHAPE[1])
        # Labelled darkening: coverage (anti-aliased, 0-255) and depth (fraction).
        self.wrinkle_cov = np.zeros(shape, np.uint8)
        self.pore_cov = np.zeros(shape, np.uint8)
        self.depth = np.zeros(shape, np.float32)
        # Unlabelled darkening (distractors): fraction 0..1 towards `dark_rgb`.
        self.distract = np.zeros(shape, np.float32)

    def px(self, v: float) -> float:
        return v * self.scale

    def polyline(self, rows, cols, thickness, depth, *, labelled: bool) -> None:
        """Draw a curve segment by segment with per-segment thickness and depth."""
        pts = _pts(rows, cols)
        for i in range(len(pts) - 1):
            th = max(1, int(round(thickness[i])))
            p0, p1 = tuple(int(v) for v in pts[i]), tuple(int(v) for v in pts[i + 1])
            if labelled:
                cv2.line(self.wrinkle_cov, p0, p1, 255, th, cv2.LINE_AA, _SHIFT)
                cv2.line(self.depth, p0, p1, float(depth[i]), th + 2, cv2.LINE_8, _SHIFT)
            else:
                cv2.line(self.distract, p0, p1, float(depth[i]), th, cv2.LINE_AA, _SHIFT)

    def blob(self, row, col, radius, depth, *, labelled: bool) -> None:
        c = (int(round(col * _ONE)), int(round(row * _ONE)))
        r = max(_ONE // 2, int(round(radius * _ONE)))
        if labelled:
            cv2.circle(self.pore_cov, c, r, 255, -1, cv2.LINE_AA, _SHIFT)
            cv2.circle(self.depth, c, r + 2 * _ONE, float(depth), -1, cv2.LINE_8, _SHIFT)
        else:
            cv2.circle(self.distract, c, r, float(depth), -1, cv2.LINE_AA, _SHIFT)


def _ellipse_mask(shape, center, axes) -> np.ndarray:
    m, n = shape
    r, c = np.ogrid[0:m, 0:n]
    return ((r / m - center[0]) / axes[0]) ** 2 + ((c / n - center[1]) / axes[1]) ** 2 <= 1.0


def _regions(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    m, n = shape
    r, c = np.ogrid[0:m, 0:n]
    v, u = r / m, c / n
    forehead = (v < 0.27) & (u > 0.12) & (u < 0.88)
    glabella = (v >= 0.27) & (v < 0.42) & (u > 0.44) & (u < 0.56)
    eyes = _ellipse_mask(shape, (0.44, 0.25), (0.11, 0.2)) | _ellipse_mask(
        shape, (0.44, 0.75), (0.11, 0.2)
    )
    nose = (v > 0.47) & (u > 0.42) & (u < 0.58)
    cheeks = _ellipse_mask(shape, (0.77, 0.23), (0.17, 0.14)) | _ellipse_mask(
        shape, (0.77, 0.77), (0.17, 0.14)
    )
    cheeks &= ~nose
    out = {
        "forehead": forehead,
        "glabella": glabella,
        "eyes": eyes & ~glabella,
        "nose": nose,
        "cheeks": cheeks,
    }
    out["wrinkle_zone"] = forehead | glabella | out["eyes"]
    out["pore_zone"] = nose | cheeks
    return out


def _curve(rng, cv: _Canvas, r0, c0, r1, c1, bend) -> tuple[np.ndarray, np.ndarray]:
    """A gently curved, slightly wavy path between two normalised points, in pixels."""
    length = np.hypot((r1 - r0) * cv.m, (c1 - c0) * cv.n)
    k = max(4, int(length / 3))
    s = np.linspace(0.0, 1.0, k)
    rows = (r0 + (r1 - r0) * s) * cv.m
    cols = (c0 + (c1 - c0) * s) * cv.n
    # bend perpendicular to the chord, plus a small wave
    nr, nc = -(c1 - c0) * cv.n, (r1 - r0) * cv.m
    norm = max(np.hypot(nr, nc), 1e-9)
    off = bend * cv.m * 4 * s * (1 - s) + cv.px(1.2) * np.sin(
        s * rng.uniform(4, 9) + rng.uniform(0, 6)
    )
    return rows + off * nr / norm, cols + off * nc / norm


def _wrinkle(rng, cv: _Canvas, r0, c0, r1, c1, bend, *, labelled=True, width=(0.8, 2.6)):
    rows, cols = _curve(rng, cv, r0, c0, r1, c1, bend)
    s = np.linspace(0.0, 1.0, len(rows))
    base = cv.px(rng.uniform(*width))
    taper = 0.45 + 0.55 * np.sin(np.pi * s) ** 0.7
    thickness = base * taper * (1 + 0.25 * np.sin(s * rng.uniform(3, 8)))
    depth = rng.uniform(0.17, 0.32) * (0.75 + 0.25 * np.sin(np.pi * s))
    cv.polyline(rows, cols, thickness, depth, labelled=labelled)


def _draw_wrinkles(rng, cv: _Canvas) -> None:
    # forehead: near-horizontal arcs
    for i in range(int(rng.integers(3, 6))):
        v = 0.06 + i * 0.045 + rng.uniform(-0.01, 0.01)
        u0, u1 = rng.uniform(0.16, 0.3), rng.uniform(0.7, 0.84)
        _wrinkle(rng, cv, v, u0, v + rng.uniform(-0.02, 0.02), u1, rng.uniform(-0.03, 0.01))
    # glabella: short vertical lines between the brows
    for du in (-0.025, 0.025):
        if rng.random() < 0.8:
            u = 0.5 + du + rng.uniform(-0.006, 0.006)
            _wrinkle(rng, cv, 0.29, u, 0.39, u + rng.uniform(-0.01, 0.01), rng.uniform(-0.02, 0.02))
    # crow's feet fanning out from the outer eye corners, and under-eye lines
    for side, uc in ((-1, 0.07), (1, 0.93)):
        for j in range(int(rng.integers(2, 4))):
            ang = -0.5 + j * 0.45 + rng.uniform(-0.1, 0.1)
            r0, c0 = 0.43 + 0.02 * np.sin(ang), uc + side * -0.02
            r1, c1 = r0 + 0.07 * np.sin(ang), c0 + side * 0.055 * np.cos(ang)
            _wrinkle(rng, cv, r0, c0, r1, c1, rng.uniform(-0.01, 0.01), width=(0.7, 1.8))
        ue = 0.25 if side < 0 else 0.75
        _wrinkle(
            rng,
            cv,
            0.51 + rng.uniform(0, 0.01),
            ue - 0.09,
            0.52,
            ue + 0.08,
            0.012,
            width=(0.7, 1.6),
        )


def _draw_eyes_and_brows(rng, cv: _Canvas, shade: np.ndarray) -> None:
    m, n = cv.m, cv.n
    for uc in (0.25, 0.75):
        # brow: many short dark hair strokes along an arc (not labelled)
        for _ in range(int(160 * cv.scale) + 20):
            s = rng.uniform(0, 1)
            u = uc - 0.12 + 0.24 * s
            v = 0.33 - 0.04 * np.sin(np.pi * s) + rng.uniform(-0.018, 0.018)
            ang = rng.uniform(-0.5, 0.3)
            ln = cv.px(rng.uniform(5, 11))
            rows = np.array([v * m, v * m - ln * np.sin(ang)])
            cols = np.array([u * n, u * n + ln * np.cos(ang)])
            cv.polyline(rows, cols, [cv.px(1.3)], [rng.uniform(0.45, 0.7)], labelled=False)
        # eye: sclera lighter, iris and pupil dark, eyelid crease (a dark curve)
        center = (int(uc * n), int(0.44 * m))
        axes = (max(2, int(0.07 * n)), max(1, int(0.028 * m)))
        cv2.ellipse(shade, center, axes, 0, 0, 360, 1.12, -1, cv2.LINE_AA)
        cv2.circle(cv.distract, center, max(1, int(0.023 * n)), 0.6, -1, cv2.LINE_AA)
        cv2.circle(cv.distract, center, max(1, int(0.01 * n)), 0.85, -1, cv2.LINE_AA)
        cv2.ellipse(
            cv.distract, center, axes, 0, 180, 360, 0.55, max(1, int(cv.px(2))), cv2.LINE_AA
        )
        crease = (axes[0] + int(cv.px(4)), axes[1] + int(cv.px(10)))
        cv2.ellipse(
            cv.distract, center, crease, 0, 200, 340, 0.3, max(1, int(cv.px(1.5))), cv2.LINE_AA
        )


def _poisson_points(rng, mask: np.ndarray, count: int, min_dist: float) -> np.ndarray:
    """Up to ``count`` random (row, col) points inside ``mask`` at least ``min_dist`` apart."""
    rr, cc = np.nonzero(mask)
    if rr.size == 0 or count <= 0:
        return np.zeros((0, 2))
    idx = rng.integers(0, rr.size, size=count * 3)
    cand = np.stack([rr[idx], cc[idx]], axis=1).astype(np.float64)
    cand += rng.uniform(-0.5, 0.5, cand.shape)
    cell = max(min_dist, 1.0)
    grid: dict[tuple[int, int], list[np.ndarray]] = {}
    kept: list[np.ndarray] = []
    for p in cand:
        g = (int(p[0] // cell), int(p[1] // cell))
        near = (
            q
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            for q in grid.get((g[0] + dr, g[1] + dc), ())
        )
        if any((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 < min_dist**2 for q in near):
            continue
        grid.setdefault(g, []).append(p)
        kept.append(p)
        if len(kept) >= count:
            break
    return np.array(kept).reshape(-1, 2)


def _draw_pores_and_moles(rng, cv: _Canvas, regions: dict[str, np.ndarray]) -> None:
    area = cv.m * cv.n / (DEFAULT_SHAPE[0] * DEFAULT_SHAPE[1])
    # moles first (unlabelled, anywhere on skin outside the eyes); pores keep clear of them
    moles = _poisson_points(rng, ~regions["eyes"], int(rng.integers(3, 7)), cv.px(40))
    for r, c in moles:
        cv.blob(r, c, cv.px(rng.uniform(3.5, 6.0)), rng.uniform(0.35, 0.55), labelled=False)
    keep_out = np.zeros((cv.m, cv.n), np.uint8)
    for r, c in moles:
        cv2.circle(keep_out, (int(c), int(r)), int(cv.px(18)), 1, -1)
    # centres keep a margin from the zone's edge, so every pore pixel lies inside it
    margin = 2 * int(np.ceil(cv.px(2.6) + 1)) + 1
    inner = cv2.erode(regions["pore_zone"].astype(np.uint8), np.ones((margin, margin), np.uint8))
    zone = (inner > 0) & (keep_out == 0)
    pores = _poisson_points(rng, zone, int(900 * area), cv.px(9))
    for r, c in pores:
        radius = cv.px(rng.uniform(1.2, 2.6))
        cv.blob(r, c, radius, rng.uniform(0.14, 0.26), labelled=True)
    # pore-like dots on the forehead and chin margins: same look, not labelled
    elsewhere = (regions["forehead"] | (~regions["pore_zone"] & ~regions["wrinkle_zone"])) & (
        keep_out == 0
    )
    for r, c in _poisson_points(rng, elsewhere, int(180 * area), cv.px(12)):
        cv.blob(r, c, cv.px(rng.uniform(1.2, 2.2)), rng.uniform(0.12, 0.22), labelled=False)


def _draw_hair(rng, cv: _Canvas) -> None:
    for _ in range(int(rng.integers(2, 5))):
        u = rng.choice([rng.uniform(0.0, 0.1), rng.uniform(0.9, 1.0)])
        rows, cols = _curve(
            rng, cv, 0.0, u, rng.uniform(0.2, 0.45), u + rng.uniform(-0.06, 0.06), 0.02
        )
        k = len(rows)
        cv.polyline(rows, cols, np.full(k, cv.px(1.5)), np.full(k, 0.6), labelled=False)


def _smooth_noise(rng, shape, cells: tuple[int, int]) -> np.ndarray:
    small = rng.standard_normal(cells).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def make_face(seed: int, *, shape: tuple[int, int] = DEFAULT_SHAPE) -> SyntheticFace:
    """Make a seeded synthetic face crop with known wrinkle and pore masks.

    Parameters
    ----------
    seed : int
        Same seed, same face (bit for bit).
    shape : (int, int), optional
        ``(rows, cols)``; default ``(640, 768)`` (the paper's 768×640). At least 32×32.

    Returns
    -------
    SyntheticFace
    """
    m, n = (int(shape[0]), int(shape[1]))
    if m < 32 or n < 32:
        raise ValueError(f"synthetic faces need at least 32×32 pixels; got shape {shape}")
    rng = np.random.default_rng(seed)
    cv = _Canvas((m, n))
    regions = _regions((m, n))

    # skin: base tone, illumination falling off towards the crop's edges, blotches
    tone = np.array([226, 176, 148], np.float32) * rng.uniform(0.82, 1.05)
    tone *= np.array([1.0, rng.uniform(0.95, 1.03), rng.uniform(0.93, 1.05)], np.float32)
    r, c = np.ogrid[0:m, 0:n]
    light = 1.0 - 0.22 * ((c / n - 0.5) * 2) ** 2 - 0.12 * (r / m - 0.35) ** 2
    shade = (light + 0.035 * _smooth_noise(rng, (m, n), (6, 7))).astype(np.float32)

    _draw_wrinkles(rng, cv)
    _draw_eyes_and_brows(rng, cv, shade)
    _draw_pores_and_moles(rng, cv, regions)
    _draw_hair(rng, cv)

    wrinkle = cv.wrinkle_cov >= 128
    pore = (cv.pore_cov >= 128) & ~wrinkle
    labelled = (cv.wrinkle_cov.astype(np.float32) + cv.pore_cov) * np.float32(1 / 255)
    np.minimum(labelled, 1.0, out=labelled)
    dark = labelled * cv.depth
    gray = shade * (1.0 - dark)
    gray += rng.normal(0.0, 0.008, (m, n)).astype(np.float32)  # fine skin grain
    rgb = gray[:, :, None] * tone
    # distractors pull towards a dark brown (hair, iris, moles)
    brown = np.array([70, 45, 35], np.float32)
    w = np.clip(cv.distract, 0.0, 1.0)[:, :, None]
    rgb = rgb * (1.0 - w) + brown * w
    image = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)

    face = SyntheticFace(
        image=image,
        wrinkle=wrinkle,
        pore=pore,
        rough_wrinkle=wrinkle,
        rough_pore=pore,
        regions=regions,
        seed=int(seed),
    )
    rough = simulate_annotator(face, seed=int(seed) + 1)
    face = SyntheticFace(
        image=image,
        wrinkle=wrinkle,
        pore=pore,
        rough_wrinkle=rough["wrinkle"],
        rough_pore=rough["pore"],
        regions=regions,
        seed=int(seed),
    )
    for a in (image, wrinkle, pore, rough["wrinkle"], rough["pore"], *regions.values()):
        a.setflags(write=False)
    return face


def _wobbly_dilate(rng, mask: np.ndarray, radius: float, wobble: float, scale: float) -> np.ndarray:
    """Dilate by ``radius`` ± a smooth random ``wobble`` (never below radius − wobble)."""
    if not mask.any():
        return np.zeros_like(mask)
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)
    m, n = mask.shape
    cells = (max(2, int(m / (40 * scale))), max(2, int(n / (40 * scale))))
    field_ = np.clip(_smooth_noise(rng, mask.shape, cells), -1.0, 1.0)
    return dist <= radius + wobble * field_


def simulate_annotator(
    face: SyntheticFace,
    *,
    seed: int,
    miss_rate: float = 0.08,
    wrinkle_radius: float = 4.0,
    pore_radius: float = 3.0,
) -> dict[ClassName, np.ndarray]:
    """Rough masks as an annotator paints them: dilated, wobbly, with some misses.

    Parameters
    ----------
    face : SyntheticFace
    seed : int
        Seed of the annotator's randomness (which structures are missed, the wobble).
    miss_rate : float, optional
        Fraction of wrinkles and pores left unpainted, in [0, 1].
    wrinkle_radius, pore_radius : float, optional
        Mean brush margin around each structure in pixels at 768×640 (scaled with size).

    Returns
    -------
    dict
        ``{"wrinkle": (M, N) bool, "pore": (M, N) bool}``.
    """
    if not 0.0 <= miss_rate <= 1.0:
        raise ValueError(f"miss_rate must be in [0, 1]; got {miss_rate}")
    rng = np.random.default_rng(seed)
    m, n = face.shape
    scale = min(m / DEFAULT_SHAPE[0], n / DEFAULT_SHAPE[1])
    out: dict[ClassName, np.ndarray] = {}
    specs: tuple[tuple[ClassName, np.ndarray, float], ...] = (
        ("wrinkle", face.wrinkle, wrinkle_radius),
        ("pore", face.pore, pore_radius),
    )
    for name, mask, radius in specs:
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        keep = rng.random(count) >= miss_rate
        keep[0] = False
        kept = keep[labels]
        r = max(1.5, radius * scale)
        out[name] = _wobbly_dilate(rng, kept, r, wobble=0.6 * r, scale=scale)
    return out
