"""Project subcommands: ``new``, ``import``, ``status``, ``repair``, ``history``, ``relink``,
``export``, ``agreement`` and ``dataset from-masks``.

Heavy modules (the project catalog, OpenCV) are imported inside each command so
``skintrace --help`` stays fast. Failures raise SkinTraceError; the dispatcher prints
its one-line message and exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from core.gt.engine import GTParams

from app.cli.args import finite_float, ratio

_STATUSES = "new, prelabeled, in_progress, submitted, accepted, rejected"


def _add_user(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--user",
        help="name recorded in the history (default: $SKINTRACE_USER, else the login name)",
    )


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _threshold(text: str) -> float | str:
    """A GT threshold: a finite number or ``auto`` (calibrated per image)."""
    return "auto" if text.strip().lower() == "auto" else finite_float(text)


def _add_gt_params(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("GT parameters")
    g.add_argument(
        "--sigma",
        type=finite_float,
        help="σ of the wrinkle texture map (Eq. 1), pixels, (0, 100] (default 5)",
    )
    g.add_argument(
        "--wrinkle-threshold",
        type=_threshold,
        help="wrinkle texture threshold, 0-255, or 'auto' (default auto: calibrated per image)",
    )
    g.add_argument(
        "--pore-threshold",
        type=_threshold,
        help="Th of the pore texture map (Eq. 2), 0-255, or 'auto' "
        "(default auto: calibrated per image)",
    )


def _add_split(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--val-ratio",
        type=ratio,
        default=50 / 314,
        help="expected share of validation images, by content hash (default: 50/314, "
        "the paper's 264/50 split)",
    )
    p.add_argument("--seed", type=int, default=0, help="changes the split as a whole (default 0)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an OUT folder that SkinTrace wrote (it has the dataset marker)",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the skintrace parser."""
    p = sub.add_parser(
        "new",
        help="create an empty project folder",
        description="Create a "
        "project: a folder with a SQLite catalog, masks/, images/, models/, exports/.",
    )
    p.add_argument("project", help="folder to create (or an empty one)")
    p.add_argument("--name", help="display name (default: the folder name)")
    _add_gt_params(p)
    _add_user(p)
    p.set_defaults(func=cmd_new)

    p = sub.add_parser(
        "import",
        help="import images into a project",
        description="Import a folder of images recursively. Duplicates (same content) and "
        "non-images are skipped and listed. Existing rough masks or GT maps are matched by "
        "file stem.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("folder", help="folder searched recursively for images")
    p.add_argument(
        "--include",
        nargs="+",
        metavar="PAT",
        default=["*"],
        help="shell patterns on file name or relative path, e.g. '*.jpg' 'cheek*/*' "
        "(default: everything)",
    )
    p.add_argument("--copy", action="store_true", help="copy images into the project")
    p.add_argument(
        "--align",
        nargs="?",
        const="768x640",
        metavar="WxH",
        help="crop each face photo to the paper's frame (default 768x640) and import the "
        "crops; originals and transforms are kept (docs/faces.md)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="check image headers only instead of decoding each image (trusted sources; "
        "an image that cannot be decoded is then skipped by export, with its reason)",
    )
    p.add_argument(
        "--no-faces",
        action="store_true",
        help="do not find the faces of the imported images now (each is then found when "
        "it is first opened)",
    )
    for kind in ("rough", "gt"):
        for cls in ("wrinkle", "pore"):
            p.add_argument(
                f"--{kind}-{cls}",
                metavar="DIR",
                help=f"existing {cls} {'rough masks' if kind == 'rough' else 'GT maps'}, "
                "matched by file stem (nonzero = painted)",
            )
    _add_user(p)
    _add_quiet(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "status",
        help="counts per status, damaged files, leftovers",
        description="Print the number of images per status and list what is wrong: missing "
        "images, images changed since import (a different file size) or that cannot be "
        "opened, missing or damaged rough masks and pre-labels, and leftovers of killed "
        "runs; `skintrace repair` fixes what it can.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument(
        "--deep",
        action="store_true",
        help="also hash and fully decode every image (slow on large projects)",
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "repair",
        help="clear damaged masks (kept as backups) and remove leftovers of killed runs",
        description="Make every image open again: each missing or damaged rough mask or "
        "pre-label is cleared (the file is kept beside it as <class>.damaged-<time>.png "
        "and the history says so), and what killed imports, exports, trainings and "
        "retraining runs left is removed. Missing or changed images are listed: relink "
        "or re-import them.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--deep", action="store_true", help="hash and fully decode every image")
    _add_user(p)
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser(
        "history",
        help="status changes of a project or one image",
        description="List status changes, oldest first: UTC time, image id, old -> new "
        "status, user and comment.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("image", nargs="?", type=int, help="image id (default: all images)")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser(
        "relink",
        help="find moved images again",
        description="Point missing images at their new place. With a folder, it is searched "
        "recursively and files are matched by content hash; with --image, TARGET is that "
        "image's new file.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("target", help="folder to search, or a file with --image")
    p.add_argument("--image", type=int, metavar="ID", help="relink just this image id")
    _add_user(p)
    p.set_defaults(func=cmd_relink)

    p = sub.add_parser(
        "export",
        help="write a GT dataset from a project",
        description="Write a GT dataset folder (manifest.json, index.csv, images/, gt/, masks/, "
        "rough/) from the project's images with the chosen statuses. The write is atomic.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("out", help="dataset folder to create")
    p.add_argument(
        "--status",
        nargs="+",
        default=["accepted"],
        metavar="STATUS",
        help=f"statuses to export (default: accepted; choices: {_STATUSES})",
    )
    p.add_argument(
        "--coords",
        choices=("crop", "original"),
        default="crop",
        help="for a project imported with --align: masks and GT in crop coordinates "
        "(default, for training) or mapped back onto the original photos",
    )
    p.add_argument(
        "--consensus",
        choices=("majority", "staple"),
        help="for images several annotators worked on, write the consensus of their rough "
        "masks (majority vote or STAPLE) instead of the newest masks",
    )
    _add_split(p)
    _add_quiet(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "agreement",
        help="agreement between annotators of the same images",
        description="Score every pair of annotators on each image both annotated: IoU, "
        "Dice, clDice and F1 within 1-3 px of their GT (rough × texture), per class. "
        "Prints mean scores per pair and class; --csv writes one row per image, class "
        "and pair.",
    )
    p.add_argument("project", help="project folder")
    p.add_argument("--csv", dest="csv_out", help="write the per-image rows to this CSV file")
    p.add_argument(
        "--maps", help="write per-class count maps (how many annotators marked each pixel) here"
    )
    p.add_argument(
        "--status", nargs="+", metavar="STATUS", help=f"only these statuses ({_STATUSES})"
    )
    _add_quiet(p)
    p.set_defaults(func=cmd_agreement)

    p = sub.add_parser("dataset", help="dataset tools", description="Dataset tools.")
    dsub = p.add_subparsers(dest="dataset_command", metavar="COMMAND", required=True)
    p = dsub.add_parser(
        "from-masks",
        help="build a GT dataset from an image folder and rough-mask folders",
        description="Batch GT without the GUI: pair each image with the wrinkle and pore "
        "rough masks of the same file stem (nonzero = painted), compute GT and write the "
        "dataset format that `skintrace export` writes.",
    )
    p.add_argument("images", help="folder of images (searched recursively)")
    p.add_argument("rough_wrinkle", help="folder of wrinkle rough masks")
    p.add_argument("rough_pore", help="folder of pore rough masks")
    p.add_argument("out", help="dataset folder to create")
    _add_gt_params(p)
    _add_split(p)
    _add_quiet(p)
    p.set_defaults(func=cmd_from_masks)


# ----------------------------------------------------------------------------- helpers


def _params(args: argparse.Namespace) -> GTParams | None:
    from core.gt.engine import GTParams

    given = {
        k: getattr(args, k)
        for k in ("sigma", "wrinkle_threshold", "pore_threshold")
        if getattr(args, k, None) is not None
    }
    return GTParams.from_dict(given) if given else None


def _say(text: str) -> None:
    print(text, file=sys.stdout)


def _warn(lines: list[str], *, limit: int = 10, file: TextIO | None = None) -> None:
    out = sys.stderr if file is None else file
    for line in lines[:limit]:
        print(f"  {line}", file=out)
    if len(lines) > limit:
        print(f"  ... and {len(lines) - limit} more", file=out)


# ----------------------------------------------------------------------------- commands


def cmd_new(args: argparse.Namespace) -> int:
    from core.project import Project

    with Project.create(args.project, name=args.name, params=_params(args), user=args.user) as p:
        _say(f"created project {p.name!r} in {p.root}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.project import Project

    rough = {c: getattr(args, f"rough_{c}") for c in ("wrinkle", "pore")}
    gt = {c: getattr(args, f"gt_{c}") for c in ("wrinkle", "pore")}
    with Project.open(args.project, user=args.user) as p:
        folder = args.folder
        if args.align:  # crops into PROJECT/aligned/crops, transforms beside (docs/faces.md)
            from app.cli.face_cmds import align_for_import

            folder = align_for_import(p, args, has_masks=any(rough.values()) or any(gt.values()))  # fmt: skip
        before = {r.id for r in p.images()}
        last = drive(
            p.import_images(
                folder,
                patterns=args.include,
                copy=args.copy,
                rough_dirs={c: d for c, d in rough.items() if d},
                gt_dirs={c: d for c, d in gt.items() if d},
                fast=args.fast,
            ),
            desc="import",
            quiet=args.quiet,
        )
        if not args.no_faces:
            _find_faces(p, [r for r in p.images() if r.id not in before], quiet=args.quiet)
    assert last is not None  # every step generator ends on its summary
    summary = last.info["summary"]
    _say("; ".join(summary.lines()))
    _warn([f"duplicate: {f} (same as {n})" for f, n in summary.duplicates])
    _warn([f"not an image: {f}" for f in summary.not_images])
    _warn([f"unreadable: {reason}" for _, reason in summary.unreadable])
    _warn([f"bad file name: {f}: {reason}" for f, reason in summary.bad_names])
    _warn([f"mask not used: {reason}" for _, reason in summary.mask_errors])
    return 0


def _find_faces(project, records, *, quiet: bool) -> None:
    """Detect and store the faces of newly imported images (docs/faces.md); never fails."""
    if not records:
        return
    from app.cli.progress import drive
    from core.face.store import detect_and_store

    items = [(r.id, r.path, r.content_hash) for r in records]
    last = drive(detect_and_store(project.root, items), desc="faces", quiet=quiet)
    info = last.info if last is not None else {}
    if info.get("error"):
        print(f"warning: faces not found: {info['error']}", file=sys.stderr)
        return
    states = ", ".join(f"{n} {s}" for s, n in sorted(info.get("states", {}).items()))
    _say(f"faces of {info.get('detected', 0)} image(s) found ({states or 'none new'})")
    _warn([f"face not found for image {i}: {reason}" for i, reason in info.get("skipped", [])])


_HEADINGS = {
    ("image", "missing"): "image(s) missing; find them with `skintrace relink`:",
    ("image", "changed"): "image(s) changed since import (masks may no longer fit):",
    ("image", "damaged"): "image(s) that cannot be opened (export skips them):",
    ("mask", "missing"): "rough mask(s) missing; `skintrace repair` clears them:",
    ("mask", "damaged"): "rough mask(s) damaged; `skintrace repair` clears them (keeps a backup):",
    ("prelabel", "missing"): "pre-label(s) missing; `skintrace repair` clears them:",
    ("prelabel", "damaged"): "pre-label(s) damaged; `skintrace repair` clears them:",
}


def cmd_status(args: argparse.Namespace) -> int:
    from core.project import Project
    from core.project.repair import check_project

    with Project.open(args.project, read_only=True) as p:
        counts = p.counts()
        health = check_project(p, deep=args.deep)
        _say(f"{p.name}: {sum(counts.values())} image(s)")
        width = max(len(s.label) for s in counts)
        for status, n in counts.items():
            _say(f"  {status.label:<{width}}  {n}")
    for (kind, problem), heading in _HEADINGS.items():
        found = [d for d in health.damage if (d.kind, d.problem) == (kind, problem)]
        if found:
            _say(f"{len(found)} {heading}")
            # Part of the report, on stdout with its heading (not interleaved with stderr).
            lines = [f"{d.image_id}: {d.detail}" for d in found]
            _warn(lines, file=sys.stdout)
    if health.leftovers:
        mb = health.leftover_bytes / 1e6
        _say(
            f"{len(health.leftovers)} leftover(s) of killed runs ({mb:.1f} MB); "
            "`skintrace repair` removes them:"
        )
        _warn(list(health.leftovers), file=sys.stdout)
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    from core.project import Project
    from core.project.repair import repair

    with Project.open(args.project, user=args.user) as p:
        report = repair(p, deep=args.deep)
        recovered = list(p.recovered)
    lines = recovered + report.lines()
    if not lines:
        _say("nothing to repair")
        return 0
    _say(
        f"cleared {len(report.cleared)} damaged file(s); {report.cleanup.summary()}"
        + (f"; {len(report.needs_user)} problem(s) need you" if report.needs_user else "")
    )
    _warn(lines, limit=50, file=sys.stdout)
    return 1 if report.needs_user else 0


def cmd_history(args: argparse.Namespace) -> int:
    from core.project import Project

    with Project.open(args.project, read_only=True) as p:
        for h in p.history(args.image):
            before = h.from_status.label if h.from_status else "-"
            note = f"  {h.comment}" if h.comment else ""
            _say(f"{h.time}  image {h.image_id}  {before} -> {h.to_status.label}  {h.user}{note}")
    return 0


def cmd_relink(args: argparse.Namespace) -> int:
    from core.project import Project

    with Project.open(args.project, user=args.user) as p:
        result = p.relink(args.target, image_id=args.image)
    _say(f"relinked {len(result.relinked)} image(s)")
    for iid, path in result.relinked:
        _say(f"  {iid}: {path}")
    if result.still_missing:
        _say(
            f"{len(result.still_missing)} image(s) still missing: "
            + ", ".join(map(str, result.still_missing))
        )
        return 1
    return 0


def _report_dataset(last, out: str) -> None:
    info = last.info
    _say(f"wrote {info['items']} item(s) to {out} (train {info['train']}, val {info['val']})")


def cmd_export(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.project import Project

    with Project.open(args.project, read_only=True) as p:
        gen = p.export(
            args.out,
            statuses=args.status,
            val_ratio=args.val_ratio,
            seed=args.seed,
            force=args.force,
            consensus=args.consensus,
        )
        last = drive(gen, desc="export", quiet=args.quiet)
    _report_dataset(last, args.out)
    assert last is not None  # every step generator ends on its summary
    skipped = last.info.get("skipped", [])
    if skipped:
        _say(f"skipped {len(skipped)} image(s) that cannot be opened:")
        _warn([f"{name}: {why}" for name, why in skipped], file=sys.stdout)
    if args.coords == "original":
        from app.cli.face_cmds import map_back_export

        map_back_export(args)
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.atomic import atomic_write_text
    from core.errors import SkinTraceError
    from core.gt.agreement import agreement_iter
    from core.project import Project, Status

    if args.csv_out and Path(args.csv_out).is_dir():
        raise SkinTraceError(f"--csv {args.csv_out} is a folder; give a file name")
    statuses = [Status.parse(s).value for s in args.status] if args.status else None
    with Project.open(args.project, read_only=True) as p:
        last = drive(
            agreement_iter(p, statuses=statuses, maps_dir=args.maps),
            desc="agreement",
            quiet=args.quiet,
        )
    assert last is not None  # every step generator ends on its summary
    report = last.info["report"]
    if not report.rows:
        raise SkinTraceError(
            f"no image of {args.project} has rough masks of two or more annotators"
        )
    print(report.table())
    if args.csv_out:
        atomic_write_text(args.csv_out, report.csv_text())
        print(f"wrote {args.csv_out}")
    return 0


def cmd_from_masks(args: argparse.Namespace) -> int:
    from app.cli.progress import drive
    from core.from_masks import dataset_from_masks

    gen = dataset_from_masks(
        args.images,
        args.rough_wrinkle,
        args.rough_pore,
        args.out,
        params=_params(args),
        val_ratio=args.val_ratio,
        seed=args.seed,
        force=args.force,
    )
    last = drive(gen, desc="dataset", quiet=args.quiet)
    _report_dataset(last, args.out)
    assert last is not None  # every step generator ends on its summary
    skipped = last.info.get("skipped", [])
    if skipped:
        _say(f"skipped {len(skipped)} image(s) without masks")
        _warn([f"{f}: {why}" for f, why in skipped])
    return 0
