"""Facial zones from the three face points (eye centres, nose base).

Zones are polygons drawn once in a face-centred template frame: ``x`` along the line from
the subject's right eye to the left eye, ``y`` down towards the nose, one unit = the eye
distance, origin at the eyes' midpoint. An affine map that sends the template's eyes and
nose onto the face's points places every polygon on the image, so the zones follow the
face's position, size, roll and proportions. Sides are the subject's: ``*_right`` is the
subject's right, on the image's left in a frontal, unmirrored photo.

Zones do not overlap: a pixel belongs to the first zone of :data:`ZONES` that covers it.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from core.face.landmarks import Face

#: Template positions of the three points (x, y) in eye distances.
TEMPLATE_POINTS = {"right_eye": (-0.5, 0.0), "left_eye": (0.5, 0.0), "nose": (0.0, 0.72)}

# Polygons of the subject's right side (x < 0) and the midline, (x, y) in eye distances.
_RIGHT: dict[str, list[tuple[float, float]]] = {
    "crows_feet": [(-0.78, -0.15), (-1.0, -0.22), (-1.04, 0.1), (-0.96, 0.3), (-0.78, 0.22)],
    "under_eye": [
        (-0.8, 0.2),
        (-0.52, 0.16),
        (-0.24, 0.14),
        (-0.2, 0.3),
        (-0.45, 0.42),
        (-0.78, 0.4),
    ],  # fmt: skip
    "nasolabial": [(-0.22, 0.74), (-0.34, 0.72), (-0.56, 1.12), (-0.46, 1.2)],
    "cheek": [
        (-0.98, 0.36),
        (-0.78, 0.44),
        (-0.3, 0.44),
        (-0.3, 0.78),
        (-0.52, 1.12),
        (-0.92, 1.0),
        (-1.05, 0.66),
    ],  # fmt: skip
}
_MIDDLE: dict[str, list[tuple[float, float]]] = {
    "forehead": [
        (-0.9, -0.4),
        (-0.18, -0.38),
        (0.18, -0.38),
        (0.9, -0.4),
        (0.85, -0.9),
        (0.4, -1.1),
        (-0.4, -1.1),
        (-0.85, -0.9),
    ],  # fmt: skip
    "glabella": [(-0.18, -0.38), (0.18, -0.38), (0.14, -0.02), (-0.14, -0.02)],
    "nose": [
        (-0.13, 0.02),
        (0.13, 0.02),
        (0.19, 0.5),
        (0.3, 0.76),
        (0.16, 0.84),
        (-0.16, 0.84),
        (-0.3, 0.76),
        (-0.19, 0.5),
    ],  # fmt: skip
}


def _mirror(poly: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(-x, y) for x, y in poly]


#: Every zone's template polygon, in priority order (earlier wins where they overlap).
TEMPLATE: dict[str, list[tuple[float, float]]] = {
    "forehead": _MIDDLE["forehead"],
    "glabella": _MIDDLE["glabella"],
    "nose": _MIDDLE["nose"],
    "nasolabial_right": _RIGHT["nasolabial"],
    "nasolabial_left": _mirror(_RIGHT["nasolabial"]),
    "crows_feet_right": _RIGHT["crows_feet"],
    "crows_feet_left": _mirror(_RIGHT["crows_feet"]),
    "under_eye_right": _RIGHT["under_eye"],
    "under_eye_left": _mirror(_RIGHT["under_eye"]),
    "cheek_right": _RIGHT["cheek"],
    "cheek_left": _mirror(_RIGHT["cheek"]),
}
#: The zones, in priority order.
ZONES: tuple[str, ...] = tuple(TEMPLATE)
#: Unions reported beside the zones.
UNIONS: dict[str, tuple[str, ...]] = {
    "t_zone": ("forehead", "glabella", "nose"),
    "butterfly": ("cheek_right", "cheek_left", "nose"),
}
#: Where each class is expected (the zone prior, :mod:`core.face.prior`).
CLASS_ZONES: dict[str, tuple[str, ...]] = {
    "wrinkle": (
        "forehead", "glabella", "crows_feet_right", "crows_feet_left",
        "under_eye_right", "under_eye_left", "nasolabial_right", "nasolabial_left",
    ),
    "pore": ("nose", "cheek_right", "cheek_left"),
}  # fmt: skip
#: Labels for the window and the report.
ZONE_TITLES: dict[str, str] = {
    "forehead": "Forehead",
    "glabella": "Glabella",
    "nose": "Nose",
    "nasolabial_right": "Nasolabial R",
    "nasolabial_left": "Nasolabial L",
    "crows_feet_right": "Crow's feet R",
    "crows_feet_left": "Crow's feet L",
    "under_eye_right": "Under-eye R",
    "under_eye_left": "Under-eye L",
    "cheek_right": "Cheek R",
    "cheek_left": "Cheek L",
    "t_zone": "T zone",
    "butterfly": "Butterfly zone",
}


def template_matrix(face: Face) -> np.ndarray:
    """The 2×3 affine map from template ``(x, y)`` to image ``(col, row)``."""
    src = np.array(
        [TEMPLATE_POINTS[k] for k in ("right_eye", "left_eye", "nose")], dtype=np.float32
    )
    dst = np.array(
        [(p[1], p[0]) for p in (face.right_eye, face.left_eye, face.nose)], dtype=np.float32
    )
    return cv2.getAffineTransform(src, dst).astype(np.float64)


def zone_polygons(face: Face) -> dict[str, np.ndarray]:
    """Each zone as a ``(K, 2)`` float array of image ``(row, col)`` vertices."""
    a = template_matrix(face)
    out: dict[str, np.ndarray] = {}
    for name, poly in TEMPLATE.items():
        xy = np.asarray(poly, dtype=np.float64)
        colrow = xy @ a[:, :2].T + a[:, 2]
        out[name] = colrow[:, ::-1].copy()
    return out


def zone_masks(face: Face, shape: tuple[int, int], *, unions: bool = True) -> dict[str, np.ndarray]:
    """Disjoint ``(M, N)`` bool masks of the zones (plus the unions when ``unions``).

    Parts of a zone outside the image are cut off; a zone may be empty.
    """
    m, n = int(shape[0]), int(shape[1])
    taken = np.zeros((m, n), dtype=bool)
    out: dict[str, np.ndarray] = {}
    shift = 4
    for name, rc in zone_polygons(face).items():
        canvas = np.zeros((m, n), dtype=np.uint8)
        pts = np.round(rc[:, ::-1] * (1 << shift)).astype(np.int64)
        pts = np.clip(pts, -(2**30), 2**30).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=shift)
        mask = canvas.astype(bool) & ~taken
        taken |= mask
        out[name] = mask
    if unions:
        out.update(union_masks(out))
    return out


def union_masks(masks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The T zone and butterfly zone from the zone masks."""
    return {name: np.logical_or.reduce([masks[p] for p in parts]) for name, parts in UNIONS.items()}


def class_zone_mask(masks: Mapping[str, np.ndarray], cls: str) -> np.ndarray:
    """Where ``cls`` is expected: the union of its zones."""
    return np.logical_or.reduce([masks[z] for z in CLASS_ZONES[cls]])
