"""Faces: landmarks, zones, alignment to the paper's crop, per-zone measurements.

Qt-free and torch-free. dlib is imported only when a face is detected
(:func:`core.face.landmarks.detect_faces`). See docs/faces.md.
"""

from __future__ import annotations

from core.face.align import AlignTransform, align_folder, alignment_for
from core.face.landmarks import (
    Face,
    FaceError,
    FaceResult,
    LandmarkerUnavailable,
    detect_faces,
    face_from_box,
    face_from_points,
    manual_result,
)
from core.face.measure import ZoneMeasurement, measure_image, skeleton_length
from core.face.prior import apply_zone_prior
from core.face.store import Scale, load_face, parse_scale, save_face
from core.face.zones import UNIONS, ZONE_TITLES, ZONES, zone_masks, zone_polygons

__all__ = [
    "UNIONS",
    "ZONES",
    "ZONE_TITLES",
    "AlignTransform",
    "Face",
    "FaceError",
    "FaceResult",
    "LandmarkerUnavailable",
    "Scale",
    "ZoneMeasurement",
    "align_folder",
    "alignment_for",
    "apply_zone_prior",
    "detect_faces",
    "face_from_box",
    "face_from_points",
    "load_face",
    "manual_result",
    "measure_image",
    "parse_scale",
    "save_face",
    "skeleton_length",
    "zone_masks",
    "zone_polygons",
]
