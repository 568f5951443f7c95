"""Face points stored beside a project, and the measurement scale.

Landmarks live in versioned JSON sidecar files, one per image, written atomically:
``PROJECT/faces/<image_id>.json`` (the catalog schema is not touched). A file remembers the
image's content hash: when the image file changes, its face is detected again. The scale
(pixels per mm, or the interocular distance in mm) is the project setting ``faces.scale``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.face.landmarks import Face, FaceError, FaceResult
from core.formats import read_versioned_json
from core.progress import CancelToken, Progress

FORMAT = "skintrace-face"
FORMAT_VERSION = 1
FOLDER = "faces"
#: Project setting holding the scale (:meth:`Scale.to_dict`).
SCALE_SETTING = "faces.scale"
_STATES = ("found", "none", "several", "profile", "manual")


def face_file(root: str | Path, image_id: int) -> Path:
    """The sidecar file of one image."""
    return Path(root) / FOLDER / f"{int(image_id)}.json"


def save_face(root: str | Path, image_id: int, result: FaceResult, *, content_hash: str = "") -> Path:  # fmt: skip
    """Write one image's face result atomically; returns the file."""
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "image_id": int(image_id),
        "content_hash": content_hash,
        "rows": result.shape[0],
        "cols": result.shape[1],
        "state": result.state,
        "message": result.message,
        "seconds": round(result.seconds, 4),
        "faces": [f.to_dict() for f in result.faces],
    }
    path = face_file(root, image_id)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")
    return path


def load_face(root: str | Path, image_id: int, *, content_hash: str | None = None) -> FaceResult | None:  # fmt: skip
    """One image's stored face result; None when there is none or the image changed since.

    Raises
    ------
    FaceError
        The file is corrupt or of another format version (delete it to detect again).
    """
    path = face_file(root, image_id)
    if not path.exists():
        return None
    data = read_versioned_json(
        path,
        format_name=FORMAT,
        version=FORMAT_VERSION,
        error=FaceError,
        kind="SkinTrace face file",
        advice="delete it to detect the face again",
    )
    if content_hash is not None and data.get("content_hash") not in ("", content_hash):
        return None
    try:
        state = str(data["state"])
        if state not in _STATES:
            raise ValueError(f"unknown state {state!r}")
        faces = tuple(Face.from_dict(f) for f in data["faces"])
        shape = (int(data["rows"]), int(data["cols"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise FaceError(f"{path} is malformed ({exc}); delete it to detect the face again") from None  # fmt: skip
    return FaceResult(state, faces, shape, str(data.get("message", "")), float(data.get("seconds", 0.0)))  # type: ignore[arg-type]  # fmt: skip


def delete_face(root: str | Path, image_id: int) -> None:
    """Forget an image's face (the next open detects it again)."""
    face_file(root, image_id).unlink(missing_ok=True)


@dataclass(frozen=True)
class Scale:
    """How many pixels a millimetre spans: fixed, or from the eye distance.

    ``px_per_mm`` wins when both are given; ``interocular_mm`` divides each face's eye
    distance (an adult's is about 63 mm).
    """

    px_per_mm: float | None = None
    interocular_mm: float | None = None

    def __post_init__(self) -> None:
        for name in ("px_per_mm", "interocular_mm"):
            v = getattr(self, name)
            if v is not None and not (v > 0 and v < 1e6):
                raise FaceError(f"scale {name.replace('_', ' ')} must be a positive number, not {v!r}")  # fmt: skip

    def for_face(self, face: Face | None) -> float | None:
        """Pixels per mm for an image with ``face``; None means: report in pixels."""
        if self.px_per_mm is not None:
            return float(self.px_per_mm)
        if self.interocular_mm is not None and face is not None and face.eye_distance > 0:
            return face.eye_distance / self.interocular_mm
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"px_per_mm": self.px_per_mm, "interocular_mm": self.interocular_mm}

    @classmethod
    def from_dict(cls, d: Any) -> Scale:
        if not isinstance(d, dict):
            return cls()
        return cls(d.get("px_per_mm"), d.get("interocular_mm"))


def parse_scale(text: str) -> Scale:
    """``"12.5px/mm"`` or ``"63mm"`` (interocular distance) → :class:`Scale`."""
    t = text.strip().lower().replace(" ", "")
    try:
        if t.endswith("px/mm"):
            return Scale(px_per_mm=float(t[:-5]))
        if t.endswith("mm"):
            return Scale(interocular_mm=float(t[:-2]))
    except ValueError:
        pass
    raise FaceError(
        f"scale {text!r} not understood: write pixels per mm as '12.5px/mm' "
        "or the interocular distance as '63mm'"
    )


def detect_and_store(
    root: str | Path,
    images: Sequence[tuple[int, str | Path, str]],
    *,
    detect: Any = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Find and store the face of each ``(image_id, path, content_hash)`` that has none yet.

    Used right after an import (``skintrace import`` and the window's import) so opening an
    image finds its face ready. Images whose face is already stored (and still fits the
    image) are left alone; an unreadable image is skipped and listed. Without dlib the
    work stops at once with one message (``info["error"]``), nothing is written.

    Yields
    ------
    Progress
        One step per image; the last one's ``info`` holds ``detected`` (count), ``states``
        (``{state: count}``), ``skipped`` (``[(image_id, reason)]``) and ``error`` ("" or
        the reason nothing was detected).
    """
    from core.errors import SkinTraceError
    from core.face.landmarks import LandmarkerUnavailable, detect_faces
    from core.imageio import load_image

    detect = detect or detect_faces
    total = len(images)
    detected, error = 0, ""
    states: dict[str, int] = {}
    skipped: list[tuple[int, str]] = []

    def info() -> dict[str, Any]:
        return {"detected": detected, "states": dict(states), "skipped": list(skipped), "error": error}  # fmt: skip

    yield Progress(0, total, "finding faces", info())
    for i, (image_id, path, content_hash) in enumerate(images):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            if load_face(root, image_id, content_hash=content_hash) is not None:
                yield Progress(i + 1, total, f"face of {Path(path).name} already stored", info())
                continue
        except FaceError:
            pass  # a corrupt file: detect again and replace it
        try:
            result = detect(load_image(path).pixels)
        except LandmarkerUnavailable as exc:
            error = str(exc)
            yield Progress(i, total, error, info())
            return
        except SkinTraceError as exc:
            skipped.append((int(image_id), str(exc)))
            yield Progress(i + 1, total, f"skipped {Path(path).name}", info())
            continue
        save_face(root, image_id, result, content_hash=content_hash)
        detected += 1
        states[result.state] = states.get(result.state, 0) + 1
        yield Progress(i + 1, total, f"{Path(path).name}: {result.state}", info())
