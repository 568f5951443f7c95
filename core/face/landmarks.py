"""Find the face and its landmarks, offline (dlib's HOG detector + a shape predictor).

dlib and the model files (``dlib-bin``, ``face-recognition-models``) are imported lazily:
the rest of SkinTrace works without them, and :func:`detect_faces` then raises
:class:`LandmarkerUnavailable` with a one-line message saying what to install. The
default is the HOG detector (part of dlib, Boost licence) with the **5-point** shape
predictor (trained on dlib's own CC0 5-point data set). The 68-point predictor was trained
on iBUG 300-W, whose terms exclude commercial use: it is only used when asked for
(``model="68"``). See docs/faces.md.

Every face is reduced to three points in image ``(row, col)`` coordinates: the centres of
the two eyes and the base of the nose. Zones (:mod:`core.face.zones`) and the alignment
(:mod:`core.face.align`) only need these, so a manual fallback (three clicks or a box) gives
the same result as the detector.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from core.errors import SkinTraceError

#: What :func:`detect_faces` found: one frontal face, none, several, a profile view.
FaceState = Literal["found", "none", "several", "profile", "manual"]
#: Where a face's points come from.
FaceSource = Literal["dlib5", "dlib68", "manual-points", "manual-box"]
#: Shape predictors: "5" (default, CC0) or "68" (iBUG 300-W, non-commercial, opt-in).
LandmarkModel = Literal["5", "68"]

#: Long side (pixels) of the copy the detector sees; larger photos are reduced first.
DETECT_MAX_SIDE = 1000
#: Relative size above which a second face makes the result "several".
SEVERAL_AREA_RATIO = 0.25
#: Detector score a face needs to count (a weaker one is used only when it is the only one).
SEVERAL_MIN_SCORE = 0.5
#: |nose offset from the eyes' midline| / eye distance above which a face is a profile view.
PROFILE_YAW = 0.33

#: Where the points sit in a dlib HOG box (fractions of its width/height), for a box fallback.
BOX_TEMPLATE = {"right_eye": (0.28, 0.3), "left_eye": (0.28, 0.72), "nose": (0.64, 0.51)}

Point = tuple[float, float]


class LandmarkerUnavailable(SkinTraceError):
    """dlib or its model files are not installed."""


class FaceError(SkinTraceError, ValueError):
    """Face points or a face file are unusable."""


@dataclass(frozen=True)
class Face:
    """One face: the three points SkinTrace uses, in image ``(row, col)``.

    ``right_eye`` is the subject's right eye (on the image's left in a frontal,
    unmirrored photo). ``points`` holds the predictor's raw points, if any.
    """

    right_eye: Point
    left_eye: Point
    nose: Point
    source: FaceSource
    box: tuple[float, float, float, float] | None = None  # row0, col0, row1, col1
    score: float = 0.0
    points: tuple[Point, ...] = ()

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres in pixels."""
        return float(np.hypot(*np.subtract(self.left_eye, self.right_eye)))

    @property
    def yaw(self) -> float:
        """Signed nose offset from the eyes' perpendicular bisector / eye distance."""
        e = np.subtract(self.left_eye, self.right_eye)
        mid = np.add(self.left_eye, self.right_eye) / 2
        d = float(np.hypot(*e))
        if d == 0:
            return 0.0
        return float(np.dot(np.subtract(self.nose, mid), e) / d / d)

    def scaled(self, factor: float) -> Face:
        """The same face in an image ``factor`` times larger."""

        def s(p: Point) -> Point:
            return (p[0] * factor, p[1] * factor)

        box = None if self.box is None else tuple(v * factor for v in self.box)
        return replace(
            self,
            right_eye=s(self.right_eye),
            left_eye=s(self.left_eye),
            nose=s(self.nose),
            box=box,  # type: ignore[arg-type]
            points=tuple(s(p) for p in self.points),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "right_eye": list(self.right_eye),
            "left_eye": list(self.left_eye),
            "nose": list(self.nose),
            "source": self.source,
            "box": None if self.box is None else list(self.box),
            "score": self.score,
            "points": [list(p) for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Face:
        try:

            def p(v: Any) -> Point:
                r, c = (float(x) for x in v)
                if not (np.isfinite(r) and np.isfinite(c)):
                    raise ValueError("not finite")
                return (r, c)

            box = d.get("box")
            return cls(
                right_eye=p(d["right_eye"]),
                left_eye=p(d["left_eye"]),
                nose=p(d["nose"]),
                source=str(d.get("source", "manual-points")),  # type: ignore[arg-type]
                box=None if box is None else tuple(float(v) for v in box),  # type: ignore[arg-type]
                score=float(d.get("score", 0.0)),
                points=tuple(p(v) for v in d.get("points", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise FaceError(f"face points are malformed ({exc}); place them again") from None


@dataclass(frozen=True)
class FaceResult:
    """What detection (or the annotator) says about one image.

    ``faces`` is ordered largest first; ``face`` is the one zones and alignment use
    (the largest), or None when there is none. ``message`` is a line for the window.
    """

    state: FaceState
    faces: tuple[Face, ...]
    shape: tuple[int, int]
    message: str = ""
    seconds: float = 0.0

    @property
    def face(self) -> Face | None:
        return self.faces[0] if self.faces else None


def face_from_points(right_eye: Point, left_eye: Point, nose: Point) -> Face:
    """A face placed by hand: eye centres and nose base, in image ``(row, col)``."""
    face = Face(tuple(map(float, right_eye)), tuple(map(float, left_eye)), tuple(map(float, nose)), "manual-points")  # type: ignore[arg-type]  # fmt: skip
    if face.eye_distance < 2:
        raise FaceError("the two eye points are on top of each other; place them apart")
    return face


def face_from_box(row0: float, col0: float, row1: float, col1: float) -> Face:
    """A face from a box dragged around it (brows to chin, ear to ear), as dlib's boxes are."""
    r0, r1 = sorted((float(row0), float(row1)))
    c0, c1 = sorted((float(col0), float(col1)))
    if r1 - r0 < 8 or c1 - c0 < 8:
        raise FaceError("the face box is too small; drag a box around the whole face")

    def at(key: str) -> Point:
        v, u = BOX_TEMPLATE[key]
        return (r0 + v * (r1 - r0), c0 + u * (c1 - c0))

    return Face(at("right_eye"), at("left_eye"), at("nose"), "manual-box", box=(r0, c0, r1, c1))


def manual_result(face: Face, shape: tuple[int, int]) -> FaceResult:
    """The result for a face the annotator placed."""
    return FaceResult("manual", (face,), (int(shape[0]), int(shape[1])), "face placed by hand")


def model_path(model: LandmarkModel = "5") -> Path:
    """The shape predictor file of ``face-recognition-models`` (not imported: it needs
    ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkerUnavailable(
            "face landmarks need the face-recognition-models package; "
            "install it (pip install face-recognition-models) or place the face by hand"
        )
    names = {"5": "shape_predictor_5_face_landmarks.dat", "68": "shape_predictor_68_face_landmarks.dat"}  # fmt: skip
    if model not in names:
        raise FaceError(f"unknown landmark model {model!r}; use '5' or '68'")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / names[model]
    if not path.is_file():
        raise LandmarkerUnavailable(f"face landmark model {path} is missing; reinstall face-recognition-models")  # fmt: skip
    return path


_CACHE: dict[str, Any] = {}


def _dlib() -> Any:
    try:
        import dlib
    except ImportError:
        raise LandmarkerUnavailable(
            "face landmarks need dlib; install dlib-bin (pip install dlib-bin) "
            "or place the face by hand"
        ) from None
    return dlib


def _models(model: LandmarkModel) -> tuple[Any, Any]:
    dlib = _dlib()
    if "detector" not in _CACHE:
        _CACHE["detector"] = dlib.get_frontal_face_detector()
    key = f"predictor{model}"
    if key not in _CACHE:
        _CACHE[key] = dlib.shape_predictor(str(model_path(model)))
    return _CACHE["detector"], _CACHE[key]


def _points_to_face(pts: np.ndarray, model: LandmarkModel) -> tuple[Point, Point, Point]:
    """(K, 2) (row, col) predictor points → right eye, left eye, nose base."""
    if model == "5":  # 0,1: image-right eye corners; 2,3: image-left eye; 4: nose base
        image_left, image_right, nose = pts[2:4].mean(0), pts[0:2].mean(0), pts[4]
    else:  # 68-point (iBUG): 36-41 image-left eye, 42-47 image-right eye, 33 nose base
        image_left, image_right, nose = pts[36:42].mean(0), pts[42:48].mean(0), pts[33]

    def p(v: np.ndarray) -> Point:
        return (float(v[0]), float(v[1]))

    return p(image_left), p(image_right), p(nose)


def detect_faces(
    image: np.ndarray,
    *,
    model: LandmarkModel = "5",
    max_side: int = DETECT_MAX_SIDE,
    upsample: int | None = None,
) -> FaceResult:
    """Detect the faces of an image and their landmarks.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray
        RGB image (any size: it is reduced to ``max_side`` for the detector; the
        landmarks are then fitted on the full image).
    model : {"5", "68"}
        Shape predictor. "5" (default) may be used commercially; "68" may not.
    max_side : int
        Long side of the copy the detector sees.
    upsample : int, optional
        Times dlib doubles the reduced copy to find small faces. By default it looks at the
        reduced copy as it is, and doubles it once only if no face was found there.

    Returns
    -------
    FaceResult
        ``state`` "found" (one frontal face), "none", "several" (``faces`` holds them all,
        largest first) or "profile" (a turned face: zones would be wrong).

    Raises
    ------
    LandmarkerUnavailable
        dlib or the model files are missing.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise FaceError(f"face detection needs an (M, N, 3) uint8 image, not {image.shape} {image.dtype}")  # fmt: skip
    t0 = time.perf_counter()
    detector, predictor = _models(model)
    dlib = _dlib()
    m, n = image.shape[:2]
    factor = min(1.0, max_side / max(m, n))
    small = image if factor == 1.0 else cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)  # fmt: skip
    small = np.ascontiguousarray(small)
    rects, scores, kinds = detector.run(small, upsample or 0, 0.0)
    if upsample is None and len(rects) == 0:  # small faces: look again at twice the size
        rects, scores, kinds = detector.run(small, 1, 0.0)
    full = np.ascontiguousarray(image)
    faces: list[tuple[Face, int]] = []
    for rect, score, kind in zip(rects, scores, kinds, strict=True):
        box = dlib.rectangle(
            int(round(rect.left() / factor)),
            int(round(rect.top() / factor)),
            int(round(rect.right() / factor)),
            int(round(rect.bottom() / factor)),
        )
        shape = predictor(full, box)
        pts = np.array([(p.y, p.x) for p in shape.parts()], dtype=np.float64)
        right, left, nose = _points_to_face(pts, model)
        face = Face(
            right,
            left,
            nose,
            "dlib5" if model == "5" else "dlib68",
            box=(float(box.top()), float(box.left()), float(box.bottom()), float(box.right())),
            score=float(score),
            points=tuple((float(r), float(c)) for r, c in pts),
        )
        faces.append((face, int(kind)))
    # Weak detections are noise unless nothing better was found.
    strong = [fk for fk in faces if fk[0].score >= SEVERAL_MIN_SCORE]
    faces = strong or sorted(faces, key=lambda fk: -fk[0].score)[:1]
    faces.sort(key=lambda fk: -_area(fk[0]))
    seconds = time.perf_counter() - t0
    shape2 = (int(m), int(n))
    if not faces:
        return FaceResult("none", (), shape2, "no face found: place the face by hand", seconds)
    main, kind = faces[0]
    faces = [faces[0]] + [fk for fk in faces[1:] if _area(fk[0]) >= SEVERAL_AREA_RATIO * _area(main)]  # fmt: skip
    found = tuple(f for f, _ in faces)
    if len(found) > 1:
        msg = f"{len(found)} faces found: the largest is used; place the face by hand to choose"
        return FaceResult("several", found, shape2, msg, seconds)
    # dlib's HOG sub-detectors 1 and 2 are the half-profile ones.
    if kind in (1, 2) or abs(main.yaw) > PROFILE_YAW:
        msg = "the face is turned (profile view): zones may be off; check or place it by hand"
        return FaceResult("profile", found, shape2, msg, seconds)
    return FaceResult("found", found, shape2, "face found", seconds)


def _area(face: Face) -> float:
    if face.box is None:
        return face.eye_distance**2
    r0, c0, r1, c1 = face.box
    return (r1 - r0) * (c1 - c0)


def layout_face(shape: tuple[int, int]) -> Face:
    """The face points of :mod:`core.demo.synthetic`'s layout (eyes at 44 % height, 25 % and 75 %
    width; nose base at 76 % height), for generated faces whose truth is known."""
    m, n = float(shape[0]), float(shape[1])
    return Face((0.44 * m, 0.25 * n), (0.44 * m, 0.75 * n), (0.76 * m, 0.5 * n), "manual-points")
