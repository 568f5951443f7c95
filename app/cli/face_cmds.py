"""``skintrace report`` (per-zone measurements) and ``skintrace align`` (the paper's crop)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .progress import drive


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="per-zone wrinkle and pore measurements as CSV + HTML",
        description="Measure wrinkles (area %%, length, width, depth) and pores (count, "
        "density, area) per facial zone of every image of a project or an exported dataset; "
        "writes OUT/measurements.csv and a self-contained OUT/report.html.",
    )
    p.add_argument("path", metavar="PROJECT_OR_DATASET")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument(
        "--scale",
        metavar="SCALE",
        help="'12.5px/mm' or the interocular distance '63mm' (default: the project's "
        "setting, else pixels)",
    )
    p.add_argument("--model", choices=("5", "68"), default="5", help="landmark model (68 is non-commercial)")  # fmt: skip
    p.add_argument("--no-detect", action="store_true", help="use stored faces only; never run dlib")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "align",
        help="crop face photos to the paper's 768×640 frame (keeps the transforms)",
        description="Find the face of every photo in PHOTOS and write its crop to "
        "OUT/crops/ and the transform to OUT/transforms/ (import OUT/crops into a project; "
        "photos without one frontal face are skipped and listed).",
    )
    p.add_argument("photos", metavar="PHOTOS")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--size", default="768x640", metavar="WxH", help="crop size (default 768x640)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_align)


def parse_size(text: str) -> tuple[int, int]:
    """``"768x640"`` (W×H) → ``(rows, cols)``."""
    from core.errors import SettingError

    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise SettingError(f"size {text!r} not understood: write it as WIDTHxHEIGHT, e.g. 768x640") from None  # fmt: skip
    return (h, w)


def cmd_report(args: argparse.Namespace) -> int:
    from core.face.landmarks import detect_faces
    from core.face.report import dataset_items, project_items, write_report
    from core.face.store import SCALE_SETTING, Scale, parse_scale

    path = Path(args.path)

    def detect(image):
        return detect_faces(image, model=args.model)

    find = None if args.no_detect else detect
    if (path / "manifest.json").is_file():
        from core.dataset import read_manifest

        total = len(read_manifest(path).items)
        scale = parse_scale(args.scale) if args.scale else Scale()
        items = dataset_items(path, detect=find)
        last = drive(write_report(items, args.out, total=total, scale=scale), desc="report", quiet=args.quiet)  # fmt: skip
    else:
        from core.project import Project

        with Project.open(path, read_only=True) as project:
            scale = parse_scale(args.scale) if args.scale else Scale.from_dict(project.get_setting(SCALE_SETTING))  # fmt: skip
            items = project_items(project, detect=find)
            last = drive(write_report(items, args.out, total=len(project), scale=scale, title=f"SkinTrace measurements: {project.name}"), desc="report", quiet=args.quiet)  # fmt: skip
    info: dict[str, Any] = last.info if last is not None else {}
    print(f"{info.get('images', 0)} images measured: {info.get('csv')} and {info.get('html')}")
    if info.get("no_face"):
        print(f"no face on {len(info['no_face'])} image(s): measured as a whole only", file=sys.stderr)  # fmt: skip
    return 0


def cmd_align(args: argparse.Namespace) -> int:
    from core.face.align import align_folder

    shape = parse_size(args.size)
    last = drive(align_folder(args.photos, args.out, crop_shape=shape), desc="align", quiet=args.quiet)  # fmt: skip
    info: dict[str, Any] = last.info if last is not None else {"aligned": 0, "skipped": []}
    print(f"{info['aligned']} photos aligned into {info.get('crops', args.out)}")
    for name, reason in info["skipped"][:20]:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    return 0


def align_for_import(project, args: argparse.Namespace, *, has_masks: bool) -> Path:
    """``skintrace import --align``: crop the photos into ``PROJECT/aligned/`` (worker of
    :func:`cmd_import`); returns the folder of crops to import."""
    from core.errors import SettingError
    from core.face.align import align_folder

    if has_masks:
        raise SettingError("--align cannot take existing masks (they are in the photos' coordinates); import without --align")  # fmt: skip
    out = Path(project.root) / "aligned"
    last = drive(align_folder(args.folder, out, crop_shape=parse_size(args.align)), desc="align", quiet=args.quiet)  # fmt: skip
    info: dict[str, Any] = last.info if last is not None else {"aligned": 0, "skipped": []}
    print(f"{info['aligned']} photos aligned")
    for name, reason in info["skipped"][:20]:
        print(f"not aligned, not imported: {name}: {reason}", file=sys.stderr)
    return out / "crops"


def map_back_export(args: argparse.Namespace) -> None:
    """``skintrace export --coords original``: map the written dataset back onto the photos."""
    from core.face.mapback import map_back_dataset

    transforms = Path(args.project) / "aligned" / "transforms"
    last = drive(map_back_dataset(args.out, transforms, args.out, force=True), desc="map back", quiet=args.quiet)  # fmt: skip
    info: dict[str, Any] = last.info if last is not None else {"mapped": 0, "unmapped": []}
    print(f"{info['mapped']} item(s) mapped back onto their original photos")
    if info["unmapped"]:
        print(f"{len(info['unmapped'])} item(s) had no alignment and stay as imported", file=sys.stderr)  # fmt: skip
