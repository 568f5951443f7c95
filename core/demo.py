"""The built-in demo project: synthetic face crops and scikit-image's astronaut.

Created on first use in the user's data folder (``$SKINTRACE_DATA_DIR`` if set, else
``~/.local/share/skintrace``) without any network access, so ``skintrace`` with no
arguments always has something to annotate.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from core.atomic import make_temp_dir
from core.errors import ProjectError

#: Folder name of the demo project inside the data folder.
DEMO_NAME = "demo-project"
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
    from core.imageio import save_png
    from core.project import Project
    from core.synthetic import make_face

    target = Path(folder) if folder is not None else data_dir() / DEMO_NAME
    if (target / "catalog.sqlite").is_file():
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
