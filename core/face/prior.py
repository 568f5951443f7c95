"""The zone prior for pre-labels (an option, off by default; docs/faces.md).

A pre-label pixel outside its class's zones is dropped: pores outside the butterfly zone
and the nose, wrinkles outside the forehead, glabella, crow's feet, under-eye and
nasolabial zones. Measured on generated faces by ``benchmarks/zone_prior.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.face.landmarks import Face
from core.face.zones import class_zone_mask, zone_masks

#: Project setting that turns the prior on for pre-labels (False by default).
PRIOR_SETTING = "faces.zone_prior"


def apply_zone_prior(
    maps: Mapping[str, np.ndarray], face: Face | None, *, grow: int = 0
) -> dict[str, np.ndarray]:
    """``maps`` with every pixel outside its class's zones set to 0 (new arrays).

    Without a face the maps are returned unchanged (copied): no face, no prior.
    ``grow`` widens the zones by that many pixels (a square dilation).
    """
    out = {cls: np.array(m, copy=True) for cls, m in maps.items()}
    if face is None or not out:
        return out
    shape = next(iter(out.values())).shape[:2]
    zones = zone_masks(face, shape, unions=False)
    for cls in out:
        keep = class_zone_mask(zones, cls)
        if grow > 0:
            import cv2

            k = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
            keep = cv2.dilate(keep.astype(np.uint8), k).astype(bool)
        out[cls][~keep] = 0
    return out


def prior_enabled(project: Any) -> bool:
    """Whether the project turned the zone prior on (setting ``faces.zone_prior``)."""
    try:
        return bool(project.get_setting(PRIOR_SETTING, False))
    except Exception:  # a project without settings storage: off
        return False


def project_zone_prior(project: Any, record: Any, maps: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:  # fmt: skip
    """Pre-label maps of ``record`` after the zone prior, when the project turned it on and
    the image has a stored face; otherwise ``maps`` unchanged."""
    from core.face.store import load_face

    out = dict(maps)
    if not prior_enabled(project):
        return out
    try:
        stored = load_face(project.root, record.id, content_hash=record.content_hash)
    except Exception:  # an unreadable face file: no prior for this image (never lose maps)
        return out
    if stored is None or stored.face is None or stored.state == "profile":
        return out
    return apply_zone_prior(out, stored.face)
