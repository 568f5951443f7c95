"""Export a project's annotated images as a GT dataset (:mod:`core.dataset` format)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import replace

from core.dataset import DEFAULT_VAL_RATIO, DatasetEntry, safe_item_id, write_dataset
from core.errors import ImageLoadError, ProjectError
from core.progress import CancelToken, Progress
from core.project.catalog import Catalog as Project
from core.project.importer import file_sha256
from core.project.records import ImageRecord
from core.project.status import Status


def export_project(
    project: Project,
    out: str | os.PathLike[str],
    *,
    statuses: Iterable[Status | str] = (Status.ACCEPTED,),
    val_ratio: float = DEFAULT_VAL_RATIO,
    seed: int = 0,
    force: bool = False,
    consensus: str | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Write the images with the given statuses, their rough masks and GT as a dataset.

    Each image's GT is computed with its effective parameters (project default or
    per-image override). The image file is checked against its content hash first:
    a missing or changed image stops the export with a message naming it, and no
    dataset folder is left behind (the write is atomic, see :func:`write_dataset`).
    An image that cannot be decoded (imported with ``fast``) is skipped and named in
    the last progress's ``info["skipped"]``, so it does not block the others.

    Parameters
    ----------
    project : Project
        Read-only is enough.
    out : path
        Dataset folder; must be new or empty unless ``force``. The project folder, a
        folder holding it or inside it (except under ``exports/`` and ``models/``) and
        the home folder are refused, with or without ``force``.
    statuses : iterable of Status or str
        Which images to export; accepted ones by default.
    val_ratio, seed : float, int
        Deterministic split keyed by content hash (:func:`core.dataset.split_for`).
    force : bool
        Replace a non-empty ``out`` that SkinTrace wrote (it has the dataset marker).
    consensus : {"majority", "staple"}, optional
        Write the consensus of every annotator's rough masks (:mod:`core.gt.agreement`) for
        images that several annotators worked on, instead of the newest masks; an image
        with one annotator keeps its masks. Each item's ``info["annotators"]`` names them.
    cancel : CancelToken, optional

    Yields
    ------
    Progress
        One per image; the last one's ``info`` has ``out``, ``items``, ``train``, ``val``
        and ``skipped``, a list of ``(image name, reason)``.
    """
    if consensus is not None:
        from core.gt.agreement import CONSENSUS_METHODS

        if consensus not in CONSENSUS_METHODS:
            choices = ", ".join(CONSENSUS_METHODS)
            raise ProjectError(f"unknown consensus {consensus!r}; choose one of {choices}")
    wanted = [Status.parse(s) for s in statuses]
    if not wanted:
        raise ProjectError("choose at least one status to export")
    records = project.images(status=wanted)
    if not records:
        names = ", ".join(s.label for s in wanted)
        raise ProjectError(f"no images with status {names} to export")
    skipped: list[tuple[str, str]] = []
    return _with_skipped(
        write_dataset(
            out,
            _entries(project, records, skipped, consensus),
            params=project.params(),
            val_ratio=val_ratio,
            seed=seed,
            total=len(records),
            force=force,
            cancel=cancel,
            protected=((project.root, "the project"),),
        ),
        skipped,
    )


def _with_skipped(
    progress: Iterator[Progress], skipped: list[tuple[str, str]]
) -> Iterator[Progress]:
    """The write's progress; the last one's ``info`` adds ``skipped``."""
    for p in progress:
        yield replace(p, info={**p.info, "skipped": list(skipped)}) if "out" in p.info else p


def _item_ids(records: list[ImageRecord]) -> dict[int, str]:
    """Readable, unique item ids from image names (``face01``; ``face01-17`` on clashes)."""
    base = {r.id: safe_item_id(r.name.rsplit("/", 1)[-1].rsplit(".", 1)[0]) for r in records}
    counts: dict[str, int] = {}
    for b in base.values():
        counts[b] = counts.get(b, 0) + 1
    return {iid: b if counts[b] == 1 else f"{b}-{iid}" for iid, b in base.items()}


def _entries(
    project: Project,
    records: list[ImageRecord],
    skipped: list[tuple[str, str]],
    consensus: str | None = None,
) -> Iterator[DatasetEntry]:
    from core.imageio import load_image

    ids = _item_ids(records)
    default = project.params()
    written = 0
    for rec in records:
        if not rec.path.is_file():
            raise ProjectError(
                f"image {rec.name!r} is missing ({rec.path}); relink it or leave it out"
            )
        if file_sha256(rec.path) != rec.content_hash:
            raise ProjectError(
                f"image {rec.name!r} changed since it was imported ({rec.path}); "
                "its masks may no longer fit it"
            )
        try:
            pixels = load_image(rec.path).pixels
        except ImageLoadError as exc:
            skipped.append((rec.name, str(exc)))
            continue
        if pixels.shape[:2] != (rec.rows, rec.cols):
            raise ProjectError(
                f"image {rec.name!r} is {pixels.shape[1]}×{pixels.shape[0]}, the catalog "
                f"says {rec.cols}×{rec.rows}"
            )
        params = project.params(rec.id) if rec.has_params_override else default
        info: dict[str, object] = {"source": rec.name}
        if consensus is None:
            rough = project.load_rough(rec.id)
        else:
            rough = dict(project.consensus_rough(rec.id, method=consensus))
            info["annotators"] = project.annotators(rec.id)
            info["consensus"] = consensus
        yield DatasetEntry(
            id=ids[rec.id],
            image=pixels,
            rough=project.gt_rough(rec.id, rough),  # minus the exclusion mask
            status=rec.status.value,
            content_hash=rec.content_hash,
            params=params,
            info=info,
        )
        written += 1
    if not written and skipped:
        name, reason = skipped[0]
        raise ProjectError(
            f"no image could be exported: image {name!r} cannot be opened ({reason})"
        )
