"""Pre-labels: which images to pre-label, in which order, from which source, and running it.

A pre-label is a pair of uint8 maps (probability × 255 for a model, 0/255 for the
baselines) stored in the project with the name of its *source*. The source is the
project's current model when there is one, else the image-processing baselines of
:mod:`core.gt.baselines`, so there is always a starting point.

Only images nobody has worked on yet get pre-labels: status "new", or "pre-labeled" by a
different source than today's (a newer model refreshes them), and never from a source a
reviewer rejected for that image (:func:`reject_prelabel`). They are produced in the
annotator's order starting at the open image, then the next one after it, so that
opening the next image never waits (:func:`order_ahead`).

:func:`prelabel_images` is a generator of :class:`~core.progress.Progress` for a worker
thread or the command line; saving goes through a caller-given function so the app can
route it through its single writer thread. No Qt here, and torch only inside the model
source (loaded lazily through :mod:`core.model`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from core.assist.active import uncertainty
from core.classes import CLASSES
from core.errors import SkinTraceError
from core.progress import CancelToken, Progress

# The history comments live with the workflow that writes them; re-exported here.
from core.project.workflow import accept_comment as accept_comment
from core.project.workflow import reject_comment as reject_comment

_K = TypeVar("_K", bound=Hashable)

#: Source name stored with baseline pre-labels (restricted to skin; older pre-labels
#: stored as ``"baseline:frangi+kmeans"`` are made again, see :func:`needs_prelabel`).
BASELINE_SOURCE = "baseline:frangi+kmeans+skin"
#: Prefix of every baseline source name, current or older.
BASELINE_PREFIX = "baseline:"
#: Prefix of the source name stored with model pre-labels: ``"model:<id>:<path>"``.
MODEL_PREFIX = "model:"
#: Statuses whose images may receive a pre-label (nobody has painted them).
PRELABEL_STATUSES = ("new", "prelabeled")
#: Margin (pixels) from a predicted mask to a rough mask on a 768×640 image, like an
#: annotator's generous stroke; it scales with the image (:func:`rough_grow`).
ROUGH_GROW = 5

Maps = dict[str, np.ndarray]
PredictFn = Callable[[np.ndarray], Maps]
SaveFn = Callable[[int, Maps, str, float], None]


@dataclass(frozen=True)
class PrelabelSource:
    """What makes pre-labels: the baselines or one registered checkpoint."""

    kind: Literal["baseline", "model"]
    #: The string stored with each pre-label (see :func:`describe_source`).
    name: str
    checkpoint: Path | None = None
    model_id: int | None = None


def baseline_source() -> PrelabelSource:
    """The image-processing baselines (Frangi wrinkles, k-means pores)."""
    return PrelabelSource("baseline", BASELINE_SOURCE)


def model_source(model_id: int, checkpoint: str | Path) -> PrelabelSource:
    """A registered checkpoint (``model_id`` from ``Project.add_model``)."""
    path = Path(checkpoint)
    return PrelabelSource("model", f"{MODEL_PREFIX}{model_id}:{path.as_posix()}", path, model_id)


def source_for(project: Any) -> PrelabelSource:
    """The project's pre-label source: its current model, or the baselines if none."""
    record = project.current_model()
    if record is None:
        return baseline_source()
    return model_source(record.id, record.path)


def describe_source(name: str | None) -> str:
    """A short label for the UI, e.g. ``"model #3 (run-2026…/best)"`` or the baselines."""
    if not name:
        return "no pre-label"
    if name.startswith(BASELINE_PREFIX):
        return "image-processing baselines (Frangi, k-means)"
    if name.startswith(MODEL_PREFIX):
        model_id, _, path = name[len(MODEL_PREFIX) :].partition(":")
        tail = "/".join(Path(path).parts[-2:]) if path else ""
        return f"model #{model_id}" + (f" ({tail})" if tail else "")
    return name


def make_predictor(
    source: PrelabelSource, *, device: str = "auto", threads: int | None = 1
) -> PredictFn:
    """A function ``image -> {class: (M, N) uint8 map}`` for ``source``.

    For a model this loads the checkpoint once (torch is imported here, lazily) and
    sets torch to ``threads`` CPU threads so a GUI stays responsive beside it.
    """
    if source.kind == "baseline":
        from core.gt.baselines import baseline_maps

        return baseline_maps
    if source.checkpoint is None:
        raise SkinTraceError(f"pre-label source {source.name} has no checkpoint folder")
    from core.model import Predictor

    predictor = Predictor(source.checkpoint, device=device, batch_size=1, threads=threads)

    def predict(image: np.ndarray) -> Maps:
        return predictor.predict([image])[0]

    return predict


def source_from_name(name: str) -> PrelabelSource:
    """Rebuild a :class:`PrelabelSource` from the name stored with a pre-label."""
    if name.startswith(MODEL_PREFIX):
        model_id, _, path = name[len(MODEL_PREFIX) :].partition(":")
        try:
            return model_source(int(model_id), path)
        except ValueError:
            pass
    return PrelabelSource("baseline", name)


def mask_levels(source: PrelabelSource) -> dict[str, float]:
    """The per-class level that turns this source's maps into masks (``map >= level``).

    A model's levels are stored in its checkpoint's ``config.json`` (read as JSON, no
    torch; see :mod:`core.model.masks`); baseline maps are 0/255, split at 128.
    """
    from core.bounded import MAX_CONFIG_BYTES, read_json_bounded
    from core.model.masks import DEFAULT_MASK_LEVEL
    from core.schemas import CheckpointMetadata, validate

    if source.kind != "model" or source.checkpoint is None:
        return dict.fromkeys(CLASSES, 128.0)
    folder = source.checkpoint
    try:  # bounded and validated (core.schemas): levels are numbers in (0, 255] or absent
        document = read_json_bounded(
            folder / "config.json", error=SkinTraceError, max_bytes=MAX_CONFIG_BYTES, root=folder
        )
        meta = (document.get("metadata") or {}) if isinstance(document, dict) else {}
        levels = validate(CheckpointMetadata, meta, what=str(folder)).mask_levels or {}
        stored: dict[str, float] = {str(c): v for c, v in levels.items()}
    except SkinTraceError:
        stored = {}  # the model itself is refused when it is loaded, with the reason
    return {c: float(stored.get(c, DEFAULT_MASK_LEVEL)) for c in CLASSES}


def rough_grow(shape: tuple[int, ...]) -> int:
    """Margin in pixels of a rough mask made from a pre-label, for an image of ``shape``.

    :data:`ROUGH_GROW` pixels at the paper's 768×640, scaled with the square root of
    the image's area (about 35 px at 6000×4000), never under 1.
    """
    from core.gt.baselines import size_scale

    return max(1, round(ROUGH_GROW * size_scale(shape)))


def grow_mask(mask: np.ndarray, grow: int) -> np.ndarray:
    """``mask`` dilated by a round disk of radius ``grow`` pixels (offsets with
    ``row² + col² <= grow * (grow + 1)``), in time independent of ``grow``."""
    import cv2

    m = np.asarray(mask, dtype=bool)
    if grow <= 0 or not m.any():
        return m.copy()
    distance = cv2.distanceTransform((~m).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= np.float32(np.sqrt(grow * (grow + 1)) + 1e-3)


def prelabel_to_rough(
    maps: Mapping[str, np.ndarray], levels: Mapping[str, float], *, grow: int | None = None
) -> dict[str, np.ndarray]:
    """Rough masks from a pre-label: ``map >= level``, grown by a generous margin.

    The predicted mask approximates the binary GT, which is much thinner than the rough
    mask an annotator paints round a structure; growing it by a stroke-like margin
    keeps the structures and their edges when GT is recomputed as rough × texture,
    and gives the annotator a region to correct rather than a tracing.

    Parameters
    ----------
    maps : mapping of class to (M, N) ndarray of uint8
    levels : mapping of class to float
    grow : int, optional
        Margin in pixels (0: none); :func:`rough_grow` of the image's shape by default.

    Returns
    -------
    dict of class to (M, N) ndarray of bool
    """
    from core.model.masks import maps_to_masks

    masks = maps_to_masks({c: np.asarray(maps[c]) for c in CLASSES}, dict(levels))
    if grow is None:
        grow = rough_grow(next(iter(masks.values())).shape)
    if grow < 0:
        raise ValueError(f"grow must be >= 0 pixels, got {grow}")
    return {c: grow_mask(m, grow) for c, m in masks.items()}


# ---------------------------------------------------------------------------- order


def prelabel_sources(project: Any) -> dict[int, str]:
    """Source name of every stored pre-label, by image id (one catalog query)."""
    return dict(project.prelabel_sources())


def needs_prelabel(
    status: Any, existing: str | None, source: str, *, rejected: str | None = None
) -> bool:
    """Whether an image with ``status`` and pre-label ``existing`` should get one from ``source``.

    ``rejected`` is the source of a pre-label a reviewer rejected for this image: that
    source never pre-labels it again (a newer one may).
    """
    # Status is a StrEnum: str() gives the stored value for it and for plain strings.
    return str(status) in PRELABEL_STATUSES and existing != source and rejected != source


def rejected_prelabels(project: Any) -> dict[int, str]:
    """Source of the last rejected pre-label, by image id (one query).

    Stored in ``prelabel_state.rejected_source`` by :func:`reject_prelabel`.
    """
    return {
        image_id: state.rejected_source
        for image_id, state in project.prelabel_state().items()
        if state.rejected_source
    }


def reject_prelabel(project: Any, image_id: int, *, note: str = "") -> str:
    """Discard a pre-labeled image's pre-label and send the image back to annotation.

    The image moves pre-labeled → new (history comment :func:`reject_comment`), its
    stored pre-label is removed, and the source is remembered so that
    :func:`plan_prelabels` does not make the same pre-label again; a different (newer)
    source may pre-label the image again.

    Parameters
    ----------
    project : Project
        Open for writing.
    image_id : int
    note : str
        The reviewer's reason, appended to the history comment.

    Returns
    -------
    str
        The rejected pre-label's source name.

    Raises
    ------
    ProjectError
        If the image is not pre-labeled or has no stored pre-label.
    """
    from core.project.workflow import reject_prelabel as reject

    return str(reject(project, image_id, note=note).source)


def order_ahead(order: Sequence[_K], current: _K | None) -> list[_K]:
    """``order`` rotated to start at ``current``: it, the next one, ..., wrapping round.

    The annotator moves forward through ``order``, so the images just ahead of the open
    one are needed first; the ones behind come last.
    """
    items = list(order)
    if current is None or current not in items:
        return items
    i = items.index(current)
    return items[i:] + items[:i]


def plan_prelabels(
    project: Any,
    source: PrelabelSource,
    *,
    order: Sequence[int] | None = None,
    current: int | None = None,
) -> list[int]:
    """Images to pre-label with ``source``, most urgent first.

    Parameters
    ----------
    project : Project
    source : PrelabelSource
    order : sequence of int, optional
        The annotator's order of image ids (file order or uncertainty order); the
        project's order by default. Ids not in the project are ignored.
    current : int, optional
        The open image: it comes first if it needs a pre-label, then those after it.

    Returns
    -------
    list of int
    """
    records = {r.id: r for r in project.images()}
    existing = prelabel_sources(project)
    rejected = rejected_prelabels(project)
    ids = [i for i in (order if order is not None else list(records)) if i in records]
    return [
        i
        for i in order_ahead(ids, current)
        if needs_prelabel(records[i].status, existing.get(i), source.name, rejected=rejected.get(i))
    ]


# ---------------------------------------------------------------------------- run


def store_prelabel(
    project: Any, image_id: int, maps: Mapping[str, np.ndarray], source: str, score: float
) -> Any:
    """Save a pre-label and its uncertainty in one transaction (the default ``save``);
    returns the image's status after it."""
    return project.save_prelabel(image_id, maps, source=source, uncertainty=score)


def prelabel_images(
    project: Any,
    ids: Sequence[int],
    *,
    source: PrelabelSource,
    predict: PredictFn | None = None,
    save: SaveFn | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Pre-label ``ids`` in the given order, yielding one Progress per image.

    Parameters
    ----------
    project : Project
        Read for images and statuses; written only through ``save``.
    ids : sequence of int
        Images in the order to process (see :func:`plan_prelabels`).
    source : PrelabelSource
    predict : callable, optional
        ``image -> maps``; :func:`make_predictor` of ``source`` by default.
    save : callable, optional
        ``save(image_id, maps, source_name, uncertainty)``; by default
        :func:`store_prelabel` on ``project``.
    cancel : CancelToken, optional
        Checked before each image; cancelling raises ``Cancelled``.

    Yields
    ------
    Progress
        ``info``: ``image_id``, ``source``, and either ``maps`` (uint8 per class),
        ``uncertainty`` and ``seconds`` (prediction time), or ``skipped`` (the image
        was started meanwhile) or ``error`` (one line; the batch goes on). The last
        Progress's ``info["summary"]`` counts ``done``, ``skipped`` and ``failed``.
    """
    from core.face.prior import project_zone_prior
    from core.imageio import load_image

    ids = list(ids)
    predict = predict or make_predictor(source)
    if save is None:

        def save(image_id: int, maps: Maps, name: str, score: float) -> None:
            store_prelabel(project, image_id, maps, name, score)

    summary = {"done": 0, "skipped": 0, "failed": 0}
    yield Progress(0, len(ids), f"pre-labeling {len(ids)} image(s)", {"source": source.name})
    for n, image_id in enumerate(ids):
        if cancel is not None:
            cancel.raise_if_cancelled()
        info: dict[str, Any] = {"image_id": image_id, "source": source.name}
        try:
            record = project.image(image_id)
            if str(record.status) not in PRELABEL_STATUSES:
                summary["skipped"] += 1
                info["skipped"] = True
                yield Progress(n + 1, len(ids), f"{record.name}: already started", info)
                continue
            pixels = load_image(record.path).pixels
            t0 = time.perf_counter()
            maps = {c: np.ascontiguousarray(m, dtype=np.uint8) for c, m in predict(pixels).items()}
            maps = project_zone_prior(project, record, maps)  # off unless faces.zone_prior
            seconds = time.perf_counter() - t0
            if set(maps) != set(CLASSES):
                raise SkinTraceError(f"the pre-label source gave {sorted(maps)}, not {CLASSES}")
            score = uncertainty(maps)
            save(image_id, maps, source.name, score)
        except SkinTraceError as exc:
            summary["failed"] += 1
            info["error"] = str(exc)
            yield Progress(n + 1, len(ids), f"image {image_id}: {exc}", info)
            continue
        summary["done"] += 1
        info.update(maps=maps, uncertainty=score, seconds=seconds)
        yield Progress(n + 1, len(ids), record.name, info)
    yield Progress(len(ids), len(ids), "pre-labels done", {"summary": summary})
