"""Import image folders into a project, and find or relink moved images.

Images are identified by the sha256 of their file bytes: the same picture imported
twice (or under two names) is skipped as a duplicate, and a moved image is found
again by its hash wherever it now lives.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.classes import CLASSES, check_class
from core.errors import (
    DiskFullError,
    ImageLoadError,
    ProjectError,
    SkinTraceError,
    shown_path,
)
from core.imageio import IMAGE_SUFFIXES, check_min_size
from core.progress import CancelToken, Progress

if TYPE_CHECKING:
    import numpy as np

    from core.project.catalog import Project
    from core.project.db import Tx
    from core.project.records import ImageRecord

IMAGE_EXTENSIONS = IMAGE_SUFFIXES  # the decodable formats (core.imageio)
_BATCH = 64  # images per catalog transaction during import


@dataclass(frozen=True)
class ImportSummary:
    """What an import did; every skipped file is listed with the reason."""

    added: int = 0
    #: (file, name of the image already in the project with the same content)
    duplicates: tuple[tuple[str, str], ...] = ()
    #: Files skipped because their extension is not an image format.
    not_images: tuple[str, ...] = ()
    #: (file, reason) for image files that cannot be read, or are too small or too large.
    unreadable: tuple[tuple[str, str], ...] = ()
    #: Rough masks / GT maps attached to imported images, by class.
    masks_matched: Mapping[str, int] = field(default_factory=dict)
    #: (file, reason) for mask files that matched an image but could not be used.
    mask_errors: tuple[tuple[str, str], ...] = ()
    cancelled: bool = False
    #: (file, reason) for files whose name cannot be stored (not valid UTF-8).
    bad_names: tuple[tuple[str, str], ...] = ()

    def lines(self) -> list[str]:
        """A short human-readable report."""
        out = [f"added {self.added} image(s)"]
        if self.duplicates:
            out.append(f"skipped {len(self.duplicates)} duplicate(s)")
        if self.not_images:
            out.append(f"skipped {len(self.not_images)} non-image file(s)")
        if self.unreadable:
            out.append(
                f"skipped {len(self.unreadable)} unreadable, too small or too large image(s)"
            )
        if self.bad_names:
            out.append(f"skipped {len(self.bad_names)} file(s) whose name is not valid UTF-8")
        for c, n in self.masks_matched.items():
            if n:
                out.append(f"attached {n} {c} mask(s)")
        if self.mask_errors:
            out.append(f"{len(self.mask_errors)} mask file(s) could not be used")
        if self.cancelled:
            out.append("cancelled before the end (imported images were kept)")
        return out


@dataclass(frozen=True)
class RelinkResult:
    """Outcome of :func:`relink`."""

    relinked: tuple[tuple[int, str], ...] = ()
    still_missing: tuple[int, ...] = ()


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, read in chunks (memory stays flat for any size)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def image_shape(path: Path) -> tuple[int, int]:
    """``(rows, cols)`` as :func:`core.imageio.load_image` will return the pixels.

    Reads the header only; EXIF orientations 5–8 (90° turns) swap rows and cols.
    An image over :data:`core.imageio.MAX_PIXELS` raises ImageLoadError (it could
    never be opened for annotation), so import skips and reports it.
    """
    from PIL import Image

    from core.imageio import MAX_PIXELS, SUPPORTED_FORMATS, read_image_size

    rows, cols = read_image_size(path, max_pixels=MAX_PIXELS)
    check_min_size(path, rows, cols)
    if path.suffix.lower() == ".png":
        _check_png_complete(path)
    if path.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
        with contextlib.suppress(Exception), Image.open(path, formats=SUPPORTED_FORMATS) as im:
            if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                rows, cols = cols, rows
    return rows, cols


def _check_png_complete(path: Path) -> None:
    """Raise ImageLoadError if a PNG is truncated or its chunks fail their checksums.

    Pillow's ``verify`` walks the chunks to IEND and checks every CRC without
    inflating the pixels, so a half-copied file is refused at import for about the
    cost of reading it (which hashing does anyway) rather than failing later, when an
    annotator opens it or an export reaches it.
    """
    import zlib

    from PIL import Image

    from core.imageio import SUPPORTED_FORMATS

    try:
        with Image.open(path, formats=SUPPORTED_FORMATS) as im:
            im.verify()
    except (OSError, SyntaxError, ValueError, EOFError, zlib.error, IndexError) as exc:
        raise ImageLoadError(f"{path}: image is corrupt or truncated ({exc})") from exc


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    rel = rel.lower()
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel, p) for p in patterns)


def _walk(folder: Path, skip: Iterable[Path]) -> list[Path]:
    """Files under ``folder``, sorted, skipping hidden entries and the ``skip`` folders."""
    skip_set = {p.resolve() for p in skip}
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in skip_set
        )
        found += [here / f for f in sorted(filenames) if not f.startswith(".")]
    return found


def _same_name_first(paths: list[Path], name: str) -> list[Path]:
    """``paths`` with those whose file name is ``name`` first (stable otherwise)."""
    return sorted(paths, key=lambda p: p.name != name)


def _stem_index(folder: Path | None) -> dict[str, Path]:
    if folder is None:
        return {}
    if not folder.is_dir():
        raise ProjectError(f"mask folder {folder} does not exist")
    index: dict[str, Path] = {}
    for p in _walk(folder, ()):
        if p.suffix.lower() in IMAGE_EXTENSIONS:
            index.setdefault(p.stem, p)
    return index


#: A copy waiting for its catalog row: ``images/.<name>.importing`` (see :func:`_copy_in`).
IMPORTING = ".importing"


def pending_copy(dest: Path) -> Path:
    """Where the copy that will become ``dest`` waits until the catalog lists it."""
    return dest.with_name(f".{dest.name}{IMPORTING}")


def _copy_in(project: Project, src: Path, digest: str, taken: set[str]) -> tuple[str, Path]:
    """Copy ``src`` into ``images/`` as a pending file; return (stored path, pending file).

    The copy is written atomically to ``images/.<name>.importing`` and renamed to its
    final name only after the catalog transaction that lists it commits, the same
    protocol as mask saves: a killed import leaves only ``.importing`` files, which the
    next writable open completes (committed) or removes (not committed).
    """
    from core.atomic import atomic_open

    name = src.name
    if len(os.fsencode(name)) > _MAX_NAME_BYTES:  # room for the digest and temp names
        name = f"{_shorten(src.stem, _MAX_NAME_BYTES - 20)}-{digest[:8]}{src.suffix}"
    dest = project.root / "images" / name
    if dest.exists() or pending_copy(dest).exists() or dest.name in taken:
        dest = dest.with_name(f"{_shorten(Path(name).stem, 200)}-{digest[:8]}{src.suffix}")
    taken.add(dest.name)
    pending = pending_copy(dest)
    with open(src, "rb") as fin, atomic_open(pending, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
    return dest.relative_to(project.root).as_posix(), pending


def _decoded_shape(path: Path, *, fast: bool) -> tuple[int, int]:
    """``(rows, cols)`` after a full decode (or, with ``fast``, from the header only).

    The full decode goes through :func:`core.imageio.load_image`, the function the
    window and export use, so an image that imports is one that opens. Images smaller
    than :data:`core.imageio.MIN_IMAGE_SIDE` are refused either way.
    """
    if fast:
        return image_shape(path)
    from core.imageio import load_image

    rows, cols = load_image(path).pixels.shape[:2]
    check_min_size(path, int(rows), int(cols))
    return int(rows), int(cols)


#: Longest copied file name, in bytes (file systems allow 255; temp names add a few).
_MAX_NAME_BYTES = 200


def _shorten(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _stored_path(project: Project, path: Path) -> str:
    """Relative to the project when the image lives inside it, else absolute."""
    try:
        return path.relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def import_images(
    project: Project,
    folder: str | os.PathLike[str],
    *,
    patterns: Iterable[str] = ("*",),
    copy: bool = False,
    rough_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
    gt_dirs: Mapping[str, str | os.PathLike[str]] | None = None,
    cancel: CancelToken | None = None,
    files: Iterable[str | os.PathLike[str]] | None = None,
    fast: bool = False,
) -> Iterator[Progress]:
    """Import every image under ``folder`` (recursively) into ``project``.

    Each image is decoded in full, so a truncated file or an unsupported pixel format
    is skipped with the reason instead of entering the project and failing later.

    Parameters
    ----------
    project : Project
        Open for writing.
    folder : path
        Folder searched recursively; hidden files and folders are skipped.
    patterns : iterable of str
        Shell patterns (``*.jpg``, ``subject*/*.png``), matched case-insensitively
        against the file name or the path relative to ``folder``.
    copy : bool
        Copy images into the project's ``images/`` instead of referencing them in place.
    rough_dirs, gt_dirs : mapping of class to folder, optional
        Existing rough masks or GT maps, matched to images by file stem; nonzero
        pixels count as painted. Where both exist for a class, the rough mask wins.
    cancel : CancelToken, optional
        Checked between files; images already imported are kept.
    files : iterable of path, optional
        Import exactly these files inside ``folder`` instead of searching it (their
        names are still relative to ``folder``; ``patterns`` still apply).
    fast : bool
        Check headers only (for trusted sources): much faster, but an image that
        cannot be decoded is imported, and later skipped by export with its reason.

    Yields
    ------
    Progress
        One per file; the last one's ``info["summary"]`` is an :class:`ImportSummary`.
    """
    src = Path(folder).absolute()
    if not src.is_dir():
        raise ProjectError(f"{shown_path(src)} is not a folder")
    if not _is_utf8(str(src)):
        raise ProjectError(
            f"{shown_path(src)}: the folder name is not valid UTF-8; rename it to import from it"
        )
    project.check_writable()
    pats = tuple(p.lower() for p in patterns) or ("*",)
    mask_dirs: dict[str, list[Path]] = {c: [] for c in CLASSES}
    for group in (rough_dirs or {}, gt_dirs or {}):
        for c, d in group.items():
            mask_dirs[check_class(c)].append(Path(d).absolute())
    # Never import the project's own files (masks, pre-labels, exports, the catalog),
    # even when the project folder is, or lies inside, the folder imported.
    own = [project.root / sub for sub in ("masks", "annotators", "prelabels", "models", "exports")]
    skip = [project.root if project.root != src else src / "images", *own]
    skip += [d for ds in mask_dirs.values() for d in ds]
    if files is None:
        candidates = _walk(src, skip)
    else:
        candidates = sorted({Path(f).absolute() for f in files})
        outside = [str(p) for p in candidates if src not in p.parents]
        if outside:
            raise ProjectError(f"{outside[0]} is not inside {src}")
    found = [
        p
        for p in candidates
        if _matches(p.relative_to(src).as_posix(), pats)
        and not (p.parent == project.root and p.name.startswith(project.catalog_path.name))
    ]
    indexes = {c: [_stem_index(d) for d in ds] for c, ds in mask_dirs.items()}

    with project.db.read() as tx:
        known = {h: n for h, n in tx.query("SELECT content_hash, name FROM images")}
    duplicates: list[tuple[str, str]] = []
    not_images: list[str] = []
    unreadable: list[tuple[str, str]] = []
    bad_names: list[tuple[str, str]] = []
    batch: list[tuple] = []
    added: list[tuple[str, str]] = []  # (content hash, stem) of imported images
    # Stems of skipped duplicates: their masks serve the copy that was imported.
    aliases: dict[str, list[str]] = {}
    copied: list[tuple[Path, Path]] = []  # (pending copy, final name) of the batch
    taken: set[str] = set()
    cancelled = False
    total = len(found)
    yield Progress(0, total, "importing")

    def flush() -> None:
        if not batch:
            return
        try:
            with project.db.transaction() as tx:
                now, user = project.now_and_user()
                new_ids = []
                for name, stored, was_copied, digest, size, rows, cols in batch:
                    new_id = tx.insert(
                        "INSERT INTO images(name, path, copied, content_hash, size_bytes, rows, "
                        "cols, status, added_utc, updated_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "RETURNING id",
                        (name, stored, was_copied, digest, size, rows, cols, "new", now, now),
                    )
                    tx.execute(
                        "INSERT INTO history(image_id, from_status, to_status, user_name, "
                        "time_utc, comment) VALUES (?, NULL, 'new', ?, ?, ?)",
                        (new_id, user, now, f"imported from {src}"),
                    )
                    new_ids.append(new_id)
                if fast:
                    _remember_header_only(project, tx, new_ids)
        except BaseException:
            drop_copies()
            raise
        for pending, final in copied:
            os.replace(pending, final)  # committed: the copy takes its listed name
        added.extend((b[3], Path(b[0]).stem) for b in batch)
        batch.clear()
        copied.clear()

    def drop_copies() -> None:
        for pending, _ in copied:
            with contextlib.suppress(OSError):
                pending.unlink()
        copied.clear()
        batch.clear()

    try:
        for n, path in enumerate(found):
            if cancel is not None and cancel.cancelled:
                cancelled = True
                break
            rel = path.relative_to(src).as_posix()
            shown = shown_path(path)
            if not _is_utf8(rel):
                # The catalog stores names as text: say which file and go on with the rest.
                bad_names.append((shown, "file name is not valid UTF-8; rename it to import it"))
                rel = shown_path(rel)
            elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                not_images.append(shown)
            else:
                try:
                    size = path.stat().st_size
                    rows, cols = _decoded_shape(path, fast=fast)
                    digest = file_sha256(path)
                except ImageLoadError as exc:
                    unreadable.append((shown, str(exc)))
                except OSError as exc:
                    unreadable.append((shown, f"{shown}: {exc.strerror}"))
                else:
                    if digest in known:
                        duplicates.append((shown, known[digest]))
                        aliases.setdefault(digest, []).append(path.stem)
                    else:
                        try:
                            if copy:
                                stored, pending = _copy_in(project, path, digest, taken)
                            else:
                                stored = _stored_path(project, path)
                        except DiskFullError as exc:
                            raise _copy_failed(project, path, exc, flush, added) from None
                        except OSError as exc:
                            unreadable.append((shown, f"{shown}: cannot copy ({exc.strerror})"))
                        else:
                            known[digest] = rel
                            if copy:
                                copied.append((pending, project.root / stored))
                            batch.append((rel, stored, int(copy), digest, size, rows, cols))
                            if len(batch) >= _BATCH:
                                flush()
            yield Progress(n + 1, total, rel)
        flush()
    except BaseException:
        # Copies not yet in the catalog (a full disk, a closed generator) are orphans.
        drop_copies()
        raise

    matched: dict[str, int] = {c: 0 for c in CLASSES}
    mask_errors: list[tuple[str, str]] = []
    if any(indexes[c] for c in CLASSES) and added:
        yield from _attach_masks(
            project, added, indexes, matched, mask_errors, total, aliases=aliases
        )
    summary = ImportSummary(
        added=len(added),
        duplicates=tuple(duplicates),
        not_images=tuple(not_images),
        unreadable=tuple(unreadable),
        masks_matched=matched,
        mask_errors=tuple(mask_errors),
        cancelled=cancelled,
        bad_names=tuple(bad_names),
    )
    yield Progress(total, total, "done", {"summary": summary})


#: Project setting: ids of images imported with ``fast`` (headers checked, not decoded);
#: :func:`core.project.repair.check_project` decodes these in full.
HEADER_ONLY = "import.header_only_ids"


def _remember_header_only(project: Project, tx: Tx, ids: list[int]) -> None:
    """Add ``ids`` to :data:`HEADER_ONLY`, in the import's own transaction."""
    text = tx.scalar("SELECT value_json FROM settings WHERE key = ?", (HEADER_ONLY,))
    known = json.loads(text) if text else []
    project.set_setting(HEADER_ONLY, sorted({*known, *ids}), tx=tx)


def _copy_failed(
    project: Project,
    src: Path,
    exc: DiskFullError,
    flush: Callable[[], None],
    added: list[tuple[str, str]],
) -> DiskFullError:
    """The disk filled while copying ``src``: keep what was copied before, say so truly."""
    from core.atomic import disk_full_error

    with contextlib.suppress(SkinTraceError, OSError):
        flush()  # the images copied before this one get their catalog rows
    n = len(added)
    kept = (
        f"the {n} image(s) imported before it are kept (importing again skips them)"
        if n
        else "no image was imported"
    )
    dest = project.root / "images" / src.name
    return disk_full_error(dest, exc, what=f"a copy of {src.name}", kept=kept)


def _attach_masks(
    project: Project,
    added: list[tuple[str, str]],
    indexes: Mapping[str, list[dict[str, Path]]],
    matched: dict[str, int],
    errors: list[tuple[str, str]],
    total: int,
    *,
    aliases: Mapping[str, list[str]],
) -> Iterator[Progress]:
    from core.dataset import load_painted

    with project.db.read() as tx:
        ids = dict(tx.query("SELECT content_hash, id FROM images"))
    for n, (digest, stem) in enumerate(added):
        image_id = ids[digest]
        rec = project.image(image_id)
        masks: dict[str, np.ndarray] = {}
        stems = [stem, *aliases.get(digest, ())]
        for c in CLASSES:
            found = next((ix[s] for s in stems for ix in indexes[c] if s in ix), None)
            if found is None:
                continue
            try:
                masks[c] = load_painted(found, shape=(rec.rows, rec.cols))
            except SkinTraceError as exc:
                errors.append((shown_path(found), str(exc)))
        if masks:
            project.save_rough(image_id, masks, comment="imported with existing masks")
            for name in masks:
                matched[name] += 1
        if n % 16 == 0:
            yield Progress(total, total, f"masks {n + 1}/{len(added)}")


def changed_images(project: Project, *, deep: bool = False) -> list[ImageRecord]:
    """Images whose file exists but differs from the one imported.

    A different size always counts; with ``deep`` every file is hashed too.
    """
    out = []
    for rec in project.images():
        try:
            size = rec.path.stat().st_size
        except OSError:
            continue  # missing: reported by missing_images()
        if size != rec.size_bytes or (deep and file_sha256(rec.path) != rec.content_hash):
            out.append(rec)
    return out


def relink(
    project: Project, target: str | os.PathLike[str], *, image_id: int | None = None
) -> RelinkResult:
    """Point missing images at their new location, checked by content hash.

    With ``image_id``, ``target`` is that image's new file. Otherwise ``target`` is a
    folder searched recursively for every missing image (same file name and size
    first, then any file of the same size).
    """
    tgt = Path(target).absolute()
    if image_id is not None:
        rec = project.image(image_id)
        if not tgt.is_file():
            raise ProjectError(f"{tgt} is not a file")
        if file_sha256(tgt) != rec.content_hash:
            raise ProjectError(
                f"{tgt} is not the image {rec.name!r} (its content differs); choose the same file"
            )
        updates = [(image_id, tgt)]
        missing: list[ImageRecord] = []
    else:
        if not tgt.is_dir():
            raise ProjectError(f"{tgt} is not a folder")
        missing = project.missing_images()
        by_size: dict[int, list[Path]] = {}
        for p in _walk(tgt, [project.root]):
            if p.suffix.lower() in IMAGE_EXTENSIONS:
                with contextlib.suppress(OSError):
                    by_size.setdefault(p.stat().st_size, []).append(p)
        updates = []
        for rec in missing:
            candidates = _same_name_first(by_size.get(rec.size_bytes, []), rec.path.name)
            hit = next((p for p in candidates if file_sha256(p) == rec.content_hash), None)
            if hit is not None:
                updates.append((rec.id, hit))
    with project.db.transaction() as tx:
        for iid, path in updates:
            tx.execute(
                "UPDATE images SET path = ? WHERE id = ?", (_stored_path(project, path), iid)
            )
    done = {iid for iid, _ in updates}
    return RelinkResult(
        relinked=tuple((iid, str(p)) for iid, p in updates),
        still_missing=tuple(r.id for r in missing if r.id not in done),
    )


__all__ = [
    "HEADER_ONLY",
    "IMAGE_EXTENSIONS",
    "IMPORTING",
    "ImportSummary",
    "RelinkResult",
    "changed_images",
    "file_sha256",
    "image_shape",
    "import_images",
    "pending_copy",
    "shown_path",
    "relink",
]
