"""The annotation document: rough masks, derived GT and undo history for one image.

:class:`AnnotationDocument` is the one owner of annotation state. Front ends paint
through its methods (image row/col coordinates; pixel ``(r, c)`` has its centre at
``(r, c)``) and listen to :class:`DocumentChange` notifications; they never write its
arrays.

GT is pointwise in (texture map, rough mask), so after a dab only the dirty
rectangle of GT is recomputed and the result equals a full :func:`core.gt.engine.compute_gt`
exactly. Undo history entries are region diffs — per touched tile the coordinates of
the pixels that changed with their old and new values — one entry per stroke, never
whole-image snapshots.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from core.classes import CLASSES, EXCLUDE, LAYER_NAMES, ClassName, check_class, check_layer
from core.errors import SkinTraceError
from core.gt.document_parts import (
    TILE,
    ChangeKind,
    DocumentChange,
    HistoryEntry,
    Patch,
    Rect,
    Stroke,
    capsule,
    changed_rect,
    check_radius,
    diff_patch,
    polygon,
    readonly_view,
)
from core.gt.engine import GTParams, TextureMaps, compute_textures, gt_from_rough, texture_steps
from core.progress import Progress

__all__ = [
    "TILE",
    "AnnotationDocument",
    "ChangeKind",
    "DocumentChange",
    "DocumentError",
    "HistoryEntry",
    "Patch",
    "Rect",
]


class DocumentError(SkinTraceError, ValueError):
    """An annotation document was used with invalid arguments or in the wrong state."""


def _radius(radius: object) -> float:
    try:
        return check_radius(radius)
    except (TypeError, ValueError) as exc:
        raise DocumentError(str(exc)) from None


class AnnotationDocument:
    """Rough masks, derived GT and undo history of one image.

    Parameters
    ----------
    image : (M, N, 3) uint8 ndarray
        The image (not copied; treat it as read-only).
    params : GTParams
        GT parameters; texture maps are computed once for them.
    rough : mapping of class name to (M, N) bool ndarray, optional
        Initial rough masks (copied); missing classes start empty. An ``"exclude"`` entry
        is the exclusion mask (hair, beard, glasses), whose area is removed from both
        classes' GT; it is painted, undone and saved like a class.
    history_limit : int, optional
        Undo steps kept (oldest dropped first), at least 1.
    defer_textures : bool, optional
        Do not compute the texture maps now: the document is usable at once (painting
        changes the rough masks, GT stays empty) until :meth:`compute_textures_steps`
        has run, e.g. in a worker while a large image is already on screen.
    """

    def __init__(
        self,
        image: np.ndarray,
        *,
        params: GTParams,
        rough: Mapping[str, np.ndarray] | None = None,
        history_limit: int = 200,
        defer_textures: bool = False,
    ) -> None:
        img = np.asarray(image)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise DocumentError(f"image must be (M, N, 3) uint8; got {img.shape} {img.dtype}")
        if int(history_limit) < 1:
            raise DocumentError(f"history_limit must be at least 1; got {history_limit}")
        if not isinstance(params, GTParams):
            raise DocumentError(f"params must be GTParams; got {type(params).__name__}")
        self._image = readonly_view(img)
        self._shape = (int(img.shape[0]), int(img.shape[1]))
        self._params = params
        self._textures: TextureMaps | None = (
            None if defer_textures else compute_textures(img, params)
        )
        self._rough = {name: np.zeros(self._shape, dtype=np.bool_) for name in LAYER_NAMES}
        for name, mask in (rough or {}).items():
            self._rough[self._layer(name)][...] = self._check_mask(mask)
        self._gt = {cls: self._full_gt(cls, self._textures, params) for cls in CLASSES}
        self._lock = threading.RLock()
        self._undo: deque[HistoryEntry] = deque()
        self._redo: list[HistoryEntry] = []
        self._limit = int(history_limit)
        self._next_state = 1
        self._base_state = 0
        self._saved_state = 0
        self._saved_params = params
        self._revision = 0
        self._stroke: Stroke | None = None
        self._subscribers: list[Callable[[DocumentChange], None]] = []

    # -- read-only state -----------------------------------------------------------

    @property
    def image(self) -> np.ndarray:
        return self._image

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def params(self) -> GTParams:
        return self._params

    @property
    def textures(self) -> TextureMaps | None:
        """The texture maps; None until computed (``defer_textures``)."""
        return self._textures

    @property
    def textures_ready(self) -> bool:
        """False while the texture maps are deferred: GT is empty until they are computed."""
        return self._textures is not None

    def chosen_threshold(self, cls: str) -> float:
        """The threshold in force for ``cls``: the fixed parameter, or the value the
        per-image calibration chose (see :meth:`core.gt.engine.TextureMaps.chosen`)."""
        if self._textures is None:
            raise DocumentError("the texture maps are still being computed")
        return self._textures.chosen(check_class(cls), self._params)

    def rough(self, cls: str) -> np.ndarray:
        """Rough mask of ``cls``, ``(M, N) bool`` read-only view (copy it to keep it)."""
        return readonly_view(self._rough[check_class(cls)])

    @property
    def exclude(self) -> np.ndarray:
        """The exclusion mask, ``(M, N) bool`` read-only view: removed from both GTs."""
        return readonly_view(self._rough[EXCLUDE])

    def snapshot(self) -> tuple[dict[str, np.ndarray], int]:
        """Copies of every rough mask and of ``"exclude"``, and the revision they are at.

        Consistent from any thread (taken under the document's lock): a save copies the
        masks on its writer thread, never on the GUI thread.
        """
        with self._lock:
            return {name: self._rough[name].copy() for name in LAYER_NAMES}, self._revision

    def gt(self, cls: str) -> np.ndarray:
        """GT magnitude of ``cls``, ``(M, N) uint8`` read-only view; binary mask = ``gt > 0``."""
        return readonly_view(self._gt[check_class(cls)])

    @property
    def revision(self) -> int:
        """Increases on every change (dab, undo, redo, params, reset)."""
        return self._revision

    @property
    def modified(self) -> bool:
        """True if rough masks or params differ from the last :meth:`mark_saved`."""
        stroke_dirty = self._stroke is not None and self._stroke.changed
        return (
            stroke_dirty
            or self._current_state() != self._saved_state
            or self._params != self._saved_params
        )

    def mark_saved(self) -> None:
        """Record the current state as saved (``modified`` becomes False)."""
        with self._lock:
            self._saved_state = self._current_state()
            self._saved_params = self._params

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) or (self._stroke is not None and self._stroke.changed)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def history(self) -> tuple[HistoryEntry, ...]:
        """Undo entries, oldest first."""
        return tuple(self._undo)

    # -- notifications ---------------------------------------------------------------

    def subscribe(self, callback: Callable[[DocumentChange], None]) -> Callable[[], None]:
        """Call ``callback(change)`` after every change; returns a function that unsubscribes.

        Callbacks run synchronously on the thread that made the change.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, change: DocumentChange) -> None:
        for cb in list(self._subscribers):
            cb(change)

    # -- helpers -----------------------------------------------------------------------

    def _check_mask(self, mask: np.ndarray) -> np.ndarray:
        m = np.asarray(mask)
        if m.shape != self._shape:
            raise DocumentError(f"mask shape {m.shape} does not match the image {self._shape}")
        return m if m.dtype == np.bool_ else m != 0

    @staticmethod
    def _layer(name: str) -> ClassName:
        """A class name or "exclude" (typed as a class: both index the rough masks)."""
        try:
            return check_layer(name)  # type: ignore[return-value]
        except ValueError as exc:
            raise DocumentError(str(exc)) from None

    def _full_gt(
        self, cls: ClassName, tex: TextureMaps | None, params: GTParams, sl: Any = np.s_[:, :]
    ) -> np.ndarray:
        """GT of ``cls`` in ``sl``: rough minus the exclusion mask × the thresholded map."""
        if tex is None:
            return np.zeros(self._shape, dtype=np.uint8)[sl]
        rough = self._rough[cls][sl] & ~self._rough[EXCLUDE][sl]
        return gt_from_rough(
            tex[cls][sl], rough, threshold=tex.threshold(cls, params), gain=params.gain(cls)
        )

    def _update_gt(self, cls: ClassName, rect: Rect) -> None:
        if self._textures is None:
            return  # GT is computed in full when the maps arrive
        excluded = str(cls) == EXCLUDE
        for c in CLASSES if excluded else (cls,):  # the exclusion changes both GTs
            self._gt[c][rect.slices] = self._full_gt(c, self._textures, self._params, rect.slices)

    def _current_state(self) -> int:
        return self._undo[-1].state if self._undo else self._base_state

    def _push(self, cls: ClassName, patches: list[Patch], label: str) -> HistoryEntry | None:
        return self._push_parts([(cls, patches)], label)

    def _push_parts(
        self, parts: Sequence[tuple[ClassName, Sequence[Patch]]], label: str
    ) -> HistoryEntry | None:
        """Record the patches of one or more classes as one undo step."""
        triples = []
        for cls, patches in parts:
            if not patches:
                continue
            bbox = patches[0].rect
            for p in patches[1:]:
                bbox = bbox.union(p.rect)
            triples.append((cls, tuple(patches), bbox))
        if not triples:
            return None
        (cls0, patches0, bbox0), *more = triples
        entry = HistoryEntry(cls0, patches0, bbox0, label, self._next_state, tuple(more))
        self._next_state += 1
        self._undo.append(entry)
        self._redo.clear()
        while len(self._undo) > self._limit:
            self._base_state = self._undo.popleft().state
        return entry

    def _replace_region(
        self, cls: ClassName, rect: Rect, new: np.ndarray, label: str
    ) -> Rect | None:
        """Set ``rough[cls][rect] = new`` as one undo step; returns the changed bbox."""
        changed = self._write_region(cls, rect, new)
        if changed is None:
            return None
        self._push(cls, [changed[1]], label)
        self._revision += 1
        return changed[0]

    def _write_region(
        self, cls: ClassName, rect: Rect, new: np.ndarray
    ) -> tuple[Rect, Patch] | None:
        """Set ``rough[cls][rect] = new`` and update GT; the changed bbox and its diff."""
        region = self._rough[cls][rect.slices]
        patch = diff_patch(rect, region, new)
        if patch is None:
            return None
        region[...] = new
        tight = Rect(
            rect.row0 + int(patch.rows.min()),
            rect.col0 + int(patch.cols.min()),
            rect.row0 + int(patch.rows.max()) + 1,
            rect.col0 + int(patch.cols.max()) + 1,
        )
        self._update_gt(cls, tight)
        return tight, patch

    # -- painting ----------------------------------------------------------------------

    def begin_stroke(self, cls: str, *, erase: bool = False, radius: float) -> None:
        """Start a brush (or eraser) stroke of ``cls`` with a round brush of ``radius`` pixels.

        A stroke still in progress is ended first.
        """
        name = self._layer(cls)
        r = _radius(radius)
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            self._stroke = Stroke(name, bool(erase), r)

    def stroke_to(self, row: float, col: float, *, radius: float | None = None) -> Rect | None:
        """Extend the stroke to ``(row, col)``: a dab at the first call, then the capsule
        swept from the previous point (no gaps however fast the pointer moves).

        ``radius`` (px) changes the brush radius from this point on (centreline snapping
        gives each point the width of the ridge under it); None keeps it.

        Returns
        -------
        Rect or None
            The rectangle whose rough mask and GT were updated, None if no pixel changed.
        """
        with self._lock:
            s = self._stroke
            if s is None:
                raise DocumentError("stroke_to called without begin_stroke")
            point = (float(row), float(col))
            if not (math.isfinite(point[0]) and math.isfinite(point[1])):
                raise DocumentError(f"stroke point must be finite; got {(row, col)!r}")
            if radius is not None:
                s.radius = _radius(radius)
            start = s.last if s.last is not None else point
            s.last = point
            hit = capsule(self._shape, start, point, s.radius)
            if hit is None:
                return None
            rect, inside = hit
            mask = self._rough[s.cls]
            region = mask[rect.slices]
            # Nothing to do if the footprint is already painted (or already erased).
            todo = inside & region if s.erase else inside & ~region
            if not todo.any():
                return None
            s.backup(mask, rect)
            if s.erase:
                region[todo] = False
            else:
                region |= inside
            self._update_gt(s.cls, rect)
            s.changed = True
            self._revision += 1
        self._emit(DocumentChange("rough", s.cls, rect))
        return rect

    def end_stroke(self) -> None:
        """Finish the stroke: its changes become one undo step (none if nothing changed)."""
        with self._lock:
            s, self._stroke = self._stroke, None
            if s is None or not s.changed:
                return
            self._push(s.cls, s.patches(self._rough[s.cls]), "erase" if s.erase else "brush")

    def fill_polygon(
        self, cls: str, points: Sequence[tuple[float, float]], *, erase: bool = False
    ) -> Rect | None:
        """Fill (or erase) the polygon through ``(row, col)`` points as one undo step.

        Pixels whose centres are inside the polygon (OpenCV ``fillPoly`` rule) change.
        Returns the changed rectangle, or None if nothing changed.
        """
        name = self._layer(cls)
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3 or not np.isfinite(pts).all():
            raise DocumentError("a polygon needs at least 3 finite (row, col) points")
        with self._lock:
            self.end_stroke()
            hit = polygon(self._shape, pts)
            if hit is None:
                return None
            rect, inside = hit
            old = self._rough[name][rect.slices]
            new = old & ~inside if erase else old | inside
            changed = self._replace_region(name, rect, new, "erase polygon" if erase else "fill")
        if changed is not None:
            self._emit(DocumentChange("rough", name, changed))
        return changed

    def add_region(
        self, cls: str, rect: Rect, inside: np.ndarray, *, label: str = "add region"
    ) -> Rect | None:
        """Add (OR) the pixels ``inside`` of ``rect`` to the rough mask of ``cls``: one undo step.

        Used by click-to-pore and box-select. ``rect`` must lie in the image and
        ``inside`` be a ``(rect.height, rect.width)`` mask. Returns the changed
        rectangle, or None if every pixel was already set.
        """
        name = self._layer(cls)
        m, n = self._shape
        if not (0 <= rect.row0 < rect.row1 <= m and 0 <= rect.col0 < rect.col1 <= n):
            raise DocumentError(f"region {rect} is outside the {m}×{n} image")
        add = np.asarray(inside)
        if add.shape != (rect.height, rect.width):
            raise DocumentError(f"region mask {add.shape} does not match {rect}")
        with self._lock:
            self.end_stroke()
            old = self._rough[name][rect.slices]
            changed = self._replace_region(name, rect, old | add.astype(np.bool_), label)
        if changed is not None:
            self._emit(DocumentChange("rough", name, changed))
        return changed

    def set_rough(self, cls: str, mask: np.ndarray, *, label: str = "set mask") -> Rect | None:
        """Replace the rough mask of ``cls`` (one undo step; e.g. pre-label → rough).

        Returns the bounding box of the changed pixels, or None if nothing changed.
        """
        name = self._layer(cls)
        return self.set_rough_many({name: mask}, label=label).get(name)

    def set_rough_many(
        self, masks: Mapping[str, np.ndarray], *, label: str = "set masks"
    ) -> dict[ClassName, Rect]:
        """Replace the rough masks of several classes as ONE undo step.

        Used for pre-label → rough masks, so one Ctrl+Z takes back every class; the
        step stores region diffs per class. ``masks`` maps class names to ``(M, N)``
        bool masks (classes not named keep theirs). Returns the bounding box of the
        changed pixels of each class that changed (empty if nothing changed).
        """
        new = {self._layer(k): self._check_mask(v) for k, v in masks.items()}
        changed: dict[ClassName, Rect] = {}
        parts: list[tuple[ClassName, list[Patch]]] = []
        with self._lock:
            self.end_stroke()
            for cls in LAYER_NAMES:
                if cls not in new:
                    continue
                rect = changed_rect(self._rough[cls], new[cls])
                if rect is None:
                    continue
                written = self._write_region(cls, rect, new[cls][rect.slices])
                if written is not None:
                    changed[cls] = written[0]
                    parts.append((cls, [written[1]]))
            if parts:
                self._push_parts(parts, label)
                self._revision += 1
        for cls, rect in changed.items():
            self._emit(DocumentChange("rough", cls, rect))
        return changed

    def clear_class(self, cls: str) -> Rect | None:
        """Erase the whole rough mask of ``cls`` (one undo step)."""
        return self.set_rough(cls, np.zeros(self._shape, np.bool_), label="clear")

    # -- undo / redo -------------------------------------------------------------------

    def _apply(self, entry: HistoryEntry, *, forward: bool) -> None:
        for cls, patches, _ in entry.parts:
            mask = self._rough[cls]
            for p in patches:
                mask[p.rect.slices][p.rows, p.cols] = p.new if forward else p.old
                self._update_gt(cls, p.rect)
        self._revision += 1

    def _emit_entry(self, entry: HistoryEntry) -> None:
        for cls, _, bbox in entry.parts:
            self._emit(DocumentChange("rough", cls, bbox))

    def undo(self) -> bool:
        """Undo the last step (a stroke in progress is ended first). False if none."""
        with self._lock:
            self.end_stroke()
            if not self._undo:
                return False
            entry = self._undo.pop()
            self._apply(entry, forward=False)
            self._redo.append(entry)
        self._emit_entry(entry)
        return True

    def redo(self) -> bool:
        """Redo the last undone step. False if none."""
        with self._lock:
            self.end_stroke()
            if not self._redo:
                return False
            entry = self._redo.pop()
            self._apply(entry, forward=True)
            self._undo.append(entry)
        self._emit_entry(entry)
        return True

    # -- parameters and reset ----------------------------------------------------------

    def set_params(self, params: GTParams) -> None:
        """Use new GT parameters: texture maps whose parameter changed are recomputed,
        then GT of both classes. Not an undo step."""
        for _ in self.set_params_steps(params):
            pass

    def set_params_steps(self, params: GTParams) -> Iterator[Progress]:
        """:meth:`set_params` in steps, for a progress display on large images.

        Yields a :class:`~core.progress.Progress` before each expensive step (the wrinkle
        map, the pore map, GT) and a final one; the new parameters take effect, and
        subscribers are notified, only after the last step.
        """
        if not isinstance(params, GTParams):
            raise DocumentError(f"params must be GTParams; got {type(params).__name__}")
        if params == self._params:
            return
        tex = self._textures
        # The expensive part depends only on the image: compute it outside the lock.
        steps = texture_steps(tex, params)
        total = len(steps) + 1
        for done, (what, step_params) in enumerate(steps):
            yield Progress(done, total, f"computing the {what}")
            tex = compute_textures(self._image, step_params, reuse=tex)
        yield Progress(total - 1, total, "computing ground truth")
        with self._lock:
            self._install(tex, params)
        self._emit(DocumentChange("params", None, None))
        yield Progress(total, total, "ground truth updated")

    def _install(self, tex: TextureMaps | None, params: GTParams) -> None:
        """Use these maps and parameters, and GT from them (the lock is held)."""
        self._textures = tex
        self._params = params
        self._gt = {cls: self._full_gt(cls, tex, params) for cls in CLASSES}
        self._revision += 1

    def compute_textures_steps(self) -> Iterator[Progress]:
        """Compute deferred texture maps, then GT, yielding a Progress before each step.

        Nothing to do (one final Progress) if the maps exist. If the parameters change
        meanwhile (:meth:`set_params` computes its own maps), the maps computed here are
        dropped. Subscribers get a "params" change when GT is filled in.
        """
        params = self._params
        if self._textures is not None:
            yield Progress(2, 2, "texture maps ready")
            return
        yield Progress(0, 2, "computing the texture maps")
        tex = compute_textures(self._image, params)
        yield Progress(1, 2, "computing ground truth")
        with self._lock:
            if self._textures is not None or self._params != params:
                return
            self._install(tex, params)
        self._emit(DocumentChange("params", None, None))
        yield Progress(2, 2, "ground truth ready")

    def reset(self, rough: Mapping[str, np.ndarray] | None = None) -> None:
        """Replace all rough masks (e.g. reloaded from disk), clear the history and mark
        the document saved. Not an undo step; notifies a "reset" change."""
        masks: dict[str, np.ndarray] = {
            self._layer(k): self._check_mask(v) for k, v in (rough or {}).items()
        }
        with self._lock:
            self._stroke = None
            for name in LAYER_NAMES:
                self._rough[name][...] = masks.get(name, False)
            for cls in CLASSES:
                self._gt[cls] = self._full_gt(cls, self._textures, self._params)
            self._undo.clear()
            self._redo.clear()
            self._base_state = self._next_state
            self._next_state += 1
            self._revision += 1
            self.mark_saved()
        self._emit(DocumentChange("reset", None, None))
