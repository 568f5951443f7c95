"""Projects the ``skintrace`` command makes by itself, in the user's data folder.

The data folder is ``$SKINTRACE_DATA_DIR`` if set, else ``~/.local/share/skintrace``.

- The built-in demo project (synthetic face crops and scikit-image's astronaut), made on
  first use without any network access, so ``skintrace`` with no arguments always has
  something to annotate (:func:`ensure_demo_project`).
- A project for a set of image files and folders given on the command line
  (``skintrace IMAGES...``): ``projects/<name>-<hash>`` where the hash is of the sorted
  resolved paths, images referenced in place (:func:`images_project_folder`,
  :func:`open_images_project`). The same set always maps to the same project, and
  running it again imports the images added since.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from core.atomic import make_temp_dir
from core.errors import ProjectError, SkinTraceError
from core.progress import CancelToken, Progress
from core.project.catalog import CATALOG
from core.project.importer import ImportSummary

#: Folder name of the demo project inside the data folder.
DEMO_NAME = "demo-project"
#: Folder inside the data folder holding the projects made for image sets.
PROJECTS_DIR = "projects"
#: Hex digits of the path-set hash in a project folder's name.
HASH_DIGITS = 10
#: Seeds of the synthetic faces in the demo.
DEMO_SEEDS: tuple[int, ...] = (1, 2, 3, 4, 5)


def data_dir() -> Path:
    """The user's SkinTrace data folder (not created)."""
    env = os.environ.get("SKINTRACE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "skintrace"


def astronaut_crop(*, shape: tuple[int, int] = (640, 768)) -> np.ndarray:
    """The astronaut's face from ``skimage.data.astronaut()``, resized to ``shape``.

    Returns
    -------
    (M, N, 3) uint8 ndarray
    """
    from skimage import data

    image = data.astronaut()  # (512, 512, 3), bundled with scikit-image
    rows, cols = shape
    # A face-centred crop with the aspect ratio of ``shape``.
    top, left, height = 20, 110, 240
    width = round(height * cols / rows)
    crop = image[top : top + height, left : left + width]
    return cv2.resize(crop, (cols, rows), interpolation=cv2.INTER_CUBIC).astype(np.uint8)


def ensure_demo_project(folder: str | os.PathLike[str] | None = None) -> Path:
    """Return the demo project's folder, creating it on first use.

    Parameters
    ----------
    folder : path, optional
        Where the demo lives; ``data_dir() / DEMO_NAME`` by default.

    Returns
    -------
    Path
        A project folder that :meth:`core.project.Project.open` accepts.

    Notes
    -----
    The project is built in a temporary sibling folder and renamed into place, so an
    interrupted first run never leaves a half-made demo behind. The first synthetic
    face comes with a simulated annotator's rough masks so its ground truth shows at
    once; the others are new.
    """
    from core.demo.synthetic import make_face
    from core.imageio import save_png
    from core.project import Project

    target = Path(folder) if folder is not None else data_dir() / DEMO_NAME
    if is_project_folder(target):
        return target
    if target.exists() and any(target.iterdir()):
        raise ProjectError(f"{target} exists but is not a SkinTrace project; move it away")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = make_temp_dir(target.parent, prefix=f".{target.name}.")
    try:
        sources = work / "sources"
        sources.mkdir()
        faces = {}
        for seed in DEMO_SEEDS:
            face = make_face(seed)
            name = f"face-{seed:02d}.png"
            save_png(sources / name, face.image)
            faces[name] = face
        save_png(sources / "portrait-astronaut.png", astronaut_crop())
        root = work / "project"
        with Project.create(root, name="SkinTrace demo") as project:
            for _ in project.import_images(sources, copy=True):
                pass
            first = next(iter(faces))
            for record in project.images():
                if record.name == first:
                    project.save_rough(record.id, faces[first].rough)
        shutil.rmtree(sources)
        with contextlib.suppress(FileNotFoundError):
            target.rmdir()  # an empty leftover folder
        os.replace(root, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


# ---------------------------------------------------------------- image-set projects


class PathNotFoundError(SkinTraceError):
    """A path given on the command line does not exist."""


def is_project_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a SkinTrace project folder (it holds a catalog)."""
    return (Path(path) / CATALOG).is_file()


def resolve_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The paths resolved (symlinks, ``..``), in the given order, without repeats.

    Raises
    ------
    PathNotFoundError
        Naming the first path that does not exist.
    ProjectError
        If there is no path, or one of several paths is a project folder.
    """
    if not paths:
        raise ProjectError("give at least one image file or folder")
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise PathNotFoundError(f"{raw}: no such file or folder")
        path = path.resolve()
        if path not in out:
            out.append(path)
    projects = [p for p in out if p.is_dir() and is_project_folder(p)]
    if projects and len(out) > 1:
        raise ProjectError(
            f"{projects[0]} is a SkinTrace project: open it on its own (skintrace open FOLDER)"
        )
    return out


def images_project_folder(
    paths: Sequence[str | os.PathLike[str]], *, base: str | os.PathLike[str] | None = None
) -> Path:
    """The project folder for this set of image files and folders (not created).

    Parameters
    ----------
    paths : sequence of path
        Existing image files and/or folders; order and repeats do not matter.
    base : path, optional
        Where the projects live; ``data_dir() / PROJECTS_DIR`` by default.

    Returns
    -------
    Path
        ``base / f"{name}-{hash}"``: ``name`` from the first path in sorted order (file
        stem or folder name), ``hash`` the first :data:`HASH_DIGITS` hex digits of the SHA-256 of the
        sorted resolved paths.
    """
    ordered = sorted(str(p) for p in resolve_paths(paths))
    key = "\n".join(ordered)
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:HASH_DIGITS]
    first = Path(ordered[0])
    name = first.stem if first.is_file() else first.name
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "images"
    root = Path(base) if base is not None else data_dir() / PROJECTS_DIR
    return root / f"{name}-{digest}"


def open_images_project(
    paths: Sequence[str | os.PathLike[str]],
    *,
    base: str | os.PathLike[str] | None = None,
    cancel: CancelToken | None = None,
) -> Iterator[Progress]:
    """Make (or reopen) the project for ``paths`` and import their images in place.

    Folders are searched recursively as ``skintrace import`` does; files are imported
    one by one (non-images are skipped and counted). Images already in the project are
    skipped as duplicates, so running it again imports only what was added since.

    Parameters
    ----------
    paths : sequence of path
        Image files and/or folders (see :func:`images_project_folder`).
    base : path, optional
        Where the projects live; ``data_dir() / PROJECTS_DIR`` by default.
    cancel : CancelToken, optional
        Checked between files; the images imported so far are kept.

    Yields
    ------
    Progress
        The import's steps; the last one's ``info`` has ``folder`` (Path), ``created``
        (bool), ``images`` (how many the project holds) and ``summary`` (an
        :class:`~core.project.importer.ImportSummary` over all paths).

    Raises
    ------
    PathNotFoundError, ProjectError
        A missing path; a project among several paths; no image at all in a new
        project (the empty project is then removed).
    """
    from core.project import Project

    resolved = resolve_paths(paths)
    folder = images_project_folder(resolved, base=base)
    created = not is_project_folder(folder)
    if created:
        if folder.exists() and any(folder.iterdir()):
            raise ProjectError(f"{folder} exists but is not a SkinTrace project; move it away")
        folder.parent.mkdir(parents=True, exist_ok=True)
        title = resolved[0].name + (f" and {len(resolved) - 1} more" if len(resolved) > 1 else "")
        Project.create(folder, name=title).close()
    # Folders are walked; single files go in by parent folder, named by file name.
    groups: list[tuple[Path, list[Path] | None]] = [(p, None) for p in resolved if p.is_dir()]
    by_parent: dict[Path, list[Path]] = {}
    for p in resolved:
        if not p.is_dir():
            by_parent.setdefault(p.parent, []).append(p)
    groups += list(by_parent.items())
    total = ImportSummary(masks_matched={})
    try:
        with Project.open(folder) as project:
            for group, files in groups:
                last: Progress | None = None
                for step in project.import_images(group, files=files, cancel=cancel):
                    if "summary" in step.info:
                        last = step
                    else:
                        yield step
                if last is not None:
                    total = _merge(total, last.info["summary"])
                if total.cancelled:
                    break
            count = len(project)
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    if created and count == 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise ProjectError(f"no image found in {', '.join(str(p) for p in resolved)}")
    info = {"folder": folder, "created": created, "images": count, "summary": total}
    yield Progress(1, 1, "done", info)


def _merge(a: ImportSummary, b: ImportSummary) -> ImportSummary:
    """Two import summaries as one (counts added, lists joined)."""
    matched = dict(a.masks_matched)
    for c, n in b.masks_matched.items():
        matched[c] = matched.get(c, 0) + n
    return replace(
        a,
        added=a.added + b.added,
        duplicates=a.duplicates + b.duplicates,
        not_images=a.not_images + b.not_images,
        unreadable=a.unreadable + b.unreadable,
        masks_matched=matched,
        mask_errors=a.mask_errors + b.mask_errors,
        cancelled=a.cancelled or b.cancelled,
    )
