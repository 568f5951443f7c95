"""Find damage in a project (missing or damaged images and masks, leftovers) and repair it.

:func:`check_project` is read-only: what ``skintrace status`` and the window's image
list show. :func:`clear_damaged` makes an image with a damaged or missing mask usable
again: the file is kept as a backup copy beside it and the catalog forgets that class,
so the image opens with an empty mask and can be painted again. :func:`clean_leftovers`
removes what killed runs left (import copies, partial exports, temp checkpoints,
unregistered retraining runs); :func:`repair` does both, for ``skintrace repair``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from core.errors import ImageLoadError, ProjectError
from core.leftovers import Cleanup, clean_folder
from core.project.masks import MaskFileError
from core.project.records import utc_now

if TYPE_CHECKING:
    from core.project.catalog import Project
    from core.project.masks import BlobStore
    from core.project.records import ImageRecord

Kind = Literal["image", "mask", "prelabel"]


@dataclass(frozen=True)
class _Listed:
    """A catalog table that lists per-image files of one store, and how to forget one."""

    store: str  # key of Project.stores: "masks", "prelabels", "annotators"
    kind: Kind
    select: str  # rows (image_id, key, sha256); key names the file in the store
    delete: str  # SQL with the parameters (key, image_id)


_LISTED = (
    _Listed(
        "masks",
        "mask",
        "SELECT image_id, class, sha256 FROM masks",
        "DELETE FROM masks WHERE class = ? AND image_id = ?",
    ),
    _Listed(
        "prelabels",
        "prelabel",
        "SELECT image_id, class, sha256 FROM prelabels",
        "DELETE FROM prelabels WHERE class = ? AND image_id = ?",
    ),
    # The exclusion mask (hair, glasses): masks/<id>/exclude.png.
    _Listed(
        "masks",
        "mask",
        "SELECT image_id, 'exclude', sha256 FROM exclusions",
        "DELETE FROM exclusions WHERE ? = 'exclude' AND image_id = ?",
    ),
    # Earlier annotators' kept masks: annotators/<id>/<file>.png.
    _Listed(
        "annotators",
        "mask",
        "SELECT image_id, file, sha256 FROM annotator_masks",
        "DELETE FROM annotator_masks WHERE file = ? AND image_id = ?",
    ),
)


@dataclass(frozen=True)
class Damage:
    """One problem with one image's files."""

    image_id: int
    #: What is affected: the image file, a rough mask or a pre-label.
    kind: Kind
    #: ``missing``, ``changed`` (image differs from the one imported) or ``damaged``.
    problem: Literal["missing", "changed", "damaged"]
    #: One-line message naming the file.
    detail: str
    #: The class, for masks and pre-labels.
    cls: str | None = None

    @property
    def label(self) -> str:
        """Short text for a badge or a list: ``"wrinkle mask damaged"``, ``"image missing"``."""
        what = f"{self.cls} {self.kind}" if self.cls else self.kind
        return f"{what} {self.problem}"

    @property
    def repairable(self) -> bool:
        """Masks and pre-labels can be cleared; an image must be relinked or re-imported."""
        return self.kind != "image"


@dataclass(frozen=True)
class HealthReport:
    """Everything :func:`check_project` found."""

    damage: tuple[Damage, ...] = ()
    #: Leftovers of killed runs that :func:`clean_leftovers` would remove (paths).
    leftovers: tuple[str, ...] = ()
    leftover_bytes: int = 0

    def by_image(self) -> dict[int, list[Damage]]:
        """Damage grouped by image id."""
        out: dict[int, list[Damage]] = {}
        for d in self.damage:
            out.setdefault(d.image_id, []).append(d)
        return out

    @property
    def ok(self) -> bool:
        return not self.damage and not self.leftovers


def _image_problem(rec: ImageRecord, *, deep: bool) -> Damage | None:
    from core.project.importer import file_sha256, image_shape

    try:
        size = rec.path.stat().st_size
    except FileNotFoundError:
        return Damage(rec.id, "image", "missing", f"{rec.path} is missing; relink it")
    except OSError as exc:
        return Damage(rec.id, "image", "missing", f"{rec.path} cannot be read: {exc.strerror}")
    if size != rec.size_bytes or (deep and file_sha256(rec.path) != rec.content_hash):
        return Damage(
            rec.id, "image", "changed", f"{rec.path} changed since import; masks may not fit"
        )
    try:
        if deep:
            from core.imageio import load_image

            load_image(rec.path)
        else:
            image_shape(rec.path)
            _check_mode(rec.path)
    except ImageLoadError as exc:
        return Damage(rec.id, "image", "damaged", str(exc))
    return None


def _check_mode(path: Path) -> None:
    """Refuse what :func:`core.imageio.load_image` refuses by pixel format, from the header."""
    from PIL import Image

    with contextlib.suppress(OSError), Image.open(path) as im:
        if im.mode == "F":
            raise ImageLoadError(
                f"{path}: 32-bit float images are not supported; save it as 8 or 16 bit"
            )


def _file_problem(store: BlobStore, kind: Kind, image_id: int, cls: str, digest: str) -> Damage:
    """The damage of one listed file, or a Damage with problem "" if it is sound."""
    try:
        store.read(image_id, cls, digest)
    except MaskFileError as exc:
        problem: Literal["missing", "damaged"] = "missing" if "missing" in str(exc) else "damaged"
        return Damage(image_id, kind, problem, str(exc), cls)
    return Damage(image_id, kind, "damaged", "", cls)


def _listed(project: Project, image_id: int | None = None) -> Iterator[tuple[_Listed, tuple]]:
    """Every file the catalog lists, as (table spec, (image_id, key, sha256))."""
    for spec in _LISTED:
        sql, args = spec.select, tuple[int, ...]()
        if image_id is not None:
            sql, args = f"{sql} WHERE image_id = ?", (image_id,)
        with project.db.read() as tx:
            rows = tx.query(f"{sql} ORDER BY image_id", args)
        for row in rows:
            yield spec, row


def check_project(project: Project, *, deep: bool = False, leftovers: bool = True) -> HealthReport:
    """Missing, changed or damaged images, masks and pre-labels, and leftovers.

    Parameters
    ----------
    project : Project
        Read-only is enough; nothing is changed.
    deep : bool
        Hash every image and decode it in full (slow on large projects); otherwise
        images are checked by size and header, which finds missing, replaced and
        truncated-header files and unsupported pixel formats. Images imported with
        ``fast`` (never decoded) are always decoded in full.
    leftovers : bool
        Also look for leftovers of killed runs (walks ``exports/`` and ``models/``).
    """
    from core.project.importer import HEADER_ONLY

    damage: list[Damage] = []
    header_only = set(project.get_setting(HEADER_ONLY, []))
    for rec in project.images():
        found = _image_problem(rec, deep=deep or rec.id in header_only)
        if found is not None:
            damage.append(found)
    for spec, (image_id, key, digest) in _listed(project):
        d = _file_problem(project.stores[spec.store], spec.kind, image_id, key, digest)
        if d.detail:
            damage.append(d)
    found_left = list(_leftovers(project, dry_run=True)) if leftovers else []
    return HealthReport(
        damage=tuple(sorted(damage, key=lambda d: (d.image_id, d.kind, d.cls or ""))),
        leftovers=tuple(p for c in found_left for p in c.removed),
        leftover_bytes=sum(c.bytes_freed for c in found_left),
    )


def clear_damaged(project: Project, image_id: int) -> list[str]:
    """Clear the image's missing or damaged mask files; keep each as a backup.

    Rough masks, pre-labels, the exclusion mask and earlier annotators' kept masks alike.

    A damaged file is moved to ``<class>.damaged-<UTC time>.png`` beside it, the catalog
    forgets that class (the image opens with an empty mask of it) and the history
    records what was done and where the backup is. Sound files are untouched.

    Returns
    -------
    list of str
        One line per cleared file.
    """
    project.check_writable()
    project.image(image_id)
    done: list[str] = []
    with project.editing(image_id):
        for spec, (_, cls, digest) in list(_listed(project, image_id)):
            store = project.stores[spec.store]
            d = _file_problem(store, spec.kind, image_id, cls, digest)
            if not d.detail:
                continue
            backup = _backup(store.path(image_id, cls))
            kept = f"; kept as {backup.relative_to(project.root).as_posix()}" if backup else ""
            note = f"cleared {d.label} ({store.relpath(image_id, cls)}){kept}"
            with project.db.transaction() as tx:
                tx.execute(spec.delete, (cls, image_id))
                status = project.image(image_id, tx=tx).status
                project.move(tx, image_id, status, status, note)  # a note, not a move
            done.append(f"image {image_id}: {note}")
    return done


def _backup(live: Path) -> Path | None:
    """Move a damaged file aside under a dated name; None if there is no file."""
    if not live.exists():
        return None
    stamp = utc_now().replace(":", "").replace("-", "").replace(".", "")
    cls = live.name[: -len(".png")]
    backup = live.with_name(f"{cls}.damaged-{stamp}.png")
    os.replace(live, backup)
    return backup


# ----------------------------------------------------------------------------- leftovers


def settle_copies(project: Project, *, dry_run: bool = False) -> Cleanup:
    """Finish or roll back the image copies of an interrupted ``import --copy``.

    A pending ``images/.<name>.importing`` whose final name the catalog lists becomes
    that file (the import committed); any other is removed (it did not).
    """
    from core.project.importer import IMPORTING

    folder = project.root / "images"
    if not folder.is_dir():
        return Cleanup()
    with project.db.read() as tx:
        listed = {p for (p,) in tx.query("SELECT path FROM images WHERE copied = 1")}
    removed: list[str] = []
    restored: list[str] = []
    freed = 0
    for pending in sorted(folder.glob(f".*{IMPORTING}")):
        final = pending.with_name(pending.name[1 : -len(IMPORTING)])
        rel = final.relative_to(project.root).as_posix()
        if rel in listed and not final.exists():
            if not dry_run:
                os.replace(pending, final)
            restored.append(rel)
        else:
            with contextlib.suppress(OSError):
                freed += pending.stat().st_size
                if not dry_run:
                    pending.unlink()
            removed.append(str(pending))
    return Cleanup(tuple(removed), tuple(restored), freed)


def recover_images(project: Project) -> list[str]:
    """On a writable open: settle a killed import's copies and temp files in ``images/``."""
    done = settle_copies(project) + clean_folder(project.root / "images", unowned=True)
    return done.lines()


def _dead_runs(project: Project) -> list[Path]:
    """Retraining run folders that no registered model uses (killed or failed runs)."""
    models = project.root / "models"
    if not models.is_dir():
        return []
    used = [Path(m.path).absolute() for m in project.models()]
    out = []
    for run in sorted(models.glob("run-*")):
        if run.is_dir() and not any(run == u or run in u.parents for u in used):
            out.append(run)
    return out


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def clean_runs(project: Project, *, keep: Path | None = None, dry_run: bool = False) -> Cleanup:
    """Remove retraining run folders that no registered model uses, except ``keep``.

    Only called under the project's writer lock (a new run, ``skintrace repair``), so
    no other process can be writing one; the caller's own current run is ``keep``.
    """
    removed: list[str] = []
    freed = 0
    for run in _dead_runs(project):
        if keep is not None and run.absolute() == Path(keep).absolute():
            continue
        freed += _size(run)
        if not dry_run:
            shutil.rmtree(run, ignore_errors=True)
        removed.append(str(run))
    return Cleanup(removed=tuple(removed), bytes_freed=freed)


def _leftovers(project: Project, *, dry_run: bool) -> Iterator[Cleanup]:
    writer = not project.read_only
    yield settle_copies(project, dry_run=dry_run)
    for sub in ("images", "masks", "prelabels", "exports", "models"):
        # Temps without a pid (older versions) can be judged only under the writer lock.
        folder = project.root / sub
        yield clean_folder(folder, recursive=True, unowned=writer, swaps=True, dry_run=dry_run)
    yield clean_runs(project, dry_run=dry_run)
    if writer:  # a catalog being created when its process died (Project.create's temp)
        creating = sorted(project.root.glob(".catalog.sqlite.*.creating"))
        freed = sum(p.stat().st_size for p in creating)
        if not dry_run:
            for p in creating:
                p.unlink(missing_ok=True)
        yield Cleanup(removed=tuple(map(str, creating)), bytes_freed=freed)


def clean_leftovers(project: Project) -> Cleanup:
    """Remove what killed imports, exports, trainings and retraining runs left."""
    project.check_writable()
    total = Cleanup()
    for part in _leftovers(project, dry_run=False):
        total += part
    return total


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair` did and what it could not do."""

    cleared: tuple[str, ...] = ()
    cleanup: Cleanup = Cleanup()
    #: Problems only the user can fix (missing or changed images), one line each.
    needs_user: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        out = list(self.cleared) + self.cleanup.lines()
        out += [f"not repaired: {line}" for line in self.needs_user]
        return out


def repair(project: Project, *, deep: bool = False) -> RepairReport:
    """Clear every damaged mask and pre-label (kept as backups) and remove leftovers."""
    if project.read_only:
        raise ProjectError(f"project {project.root} is open read-only; repair needs to write")
    report = check_project(project, deep=deep)
    cleared: list[str] = []
    for image_id, items in report.by_image().items():
        if any(d.repairable for d in items):
            cleared += clear_damaged(project, image_id)
    needs_user = tuple(f"image {d.image_id}: {d.detail}" for d in report.damage if not d.repairable)
    return RepairReport(tuple(cleared), clean_leftovers(project), needs_user)


__all__ = [
    "Damage",
    "HealthReport",
    "RepairReport",
    "check_project",
    "clean_leftovers",
    "clean_runs",
    "clear_damaged",
    "recover_images",
    "repair",
    "settle_copies",
]
