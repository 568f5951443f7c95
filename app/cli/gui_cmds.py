"""Commands that open the annotation window.

``skintrace`` (the demo project), ``skintrace open PROJECT`` and ``skintrace PATH...``
(a project folder, or image files and folders: a project for exactly that set is made
in the user data folder, or reopened, and the images added since are imported).
"""

from __future__ import annotations

import argparse
import os
import sys

from core.errors import SkinTraceError

PATHS_HELP = """\
paths:
  skintrace PATH [PATH ...]
      One project folder: open it (as `skintrace open PATH`). Otherwise image files
      and/or folders of images: a project for exactly that set is made in the user
      data folder ($SKINTRACE_DATA_DIR or ~/.local/share/skintrace)/projects/ with the
      images referenced in place; running it again reopens that project and imports
      the images added since. Command names come first: for a folder named like a
      command (say "train"), write ./train or use `skintrace open`.
"""


def paths_parser() -> argparse.ArgumentParser:
    """The parser of ``skintrace PATH [PATH ...]`` (no subcommand)."""
    p = argparse.ArgumentParser(
        prog="skintrace",
        usage="%(prog)s PATH [PATH ...]",
        description="Open a project folder, or annotate a set of image files and folders.",
        epilog=PATHS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="project folder, images or folders")
    p.add_argument(
        "--read-only", action="store_true", help="open a project folder without write access"
    )
    p.add_argument("--quiet", action="store_true", help="no import progress bar")
    p.set_defaults(func=run_paths)
    return p


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``open`` to the skintrace parser."""
    p = sub.add_parser(
        "open",
        help="open a project in the annotation window",
        description="Open a project in the annotation window (needs a display).",
    )
    p.add_argument(
        "project",
        help="project folder (made by `skintrace new`), or a team project's "
        "postgresql://[user@]host/database (docs/team.md)",
    )
    p.add_argument("--read-only", action="store_true", help="open without write access")
    p.add_argument(
        "--root",
        help="team project: where this machine mounts the image share (remembered)",
    )
    p.set_defaults(func=run_open)


def check_display() -> None:
    """Refuse to start Qt on a Linux machine without a display.

    Qt would otherwise abort the process (a core dump and a paragraph about platform
    plugins) instead of saying what is wrong.
    """
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise SkinTraceError(
        "no display to open the window on: run it in a desktop session (or ssh -X); "
        "the other commands work without one"
    )


def run_open(args: argparse.Namespace) -> int:
    """Open the annotation window on ``args.project``."""
    from core.project import Project

    # Fail on the command line, before any window, if the folder is not a project.
    root = getattr(args, "root", None)
    Project.open(args.project, read_only=True, **({"root": root} if root else {})).close()
    check_display()
    from app.gui.app import run_window

    return run_window(args.project, read_only=args.read_only)


def run_demo(args: argparse.Namespace) -> int:
    """Open the annotation window on the built-in demo project (made on first run)."""
    check_display()
    from app.gui.app import run_window
    from core.demo.projects import ensure_demo_project

    return run_window(ensure_demo_project())


def run_paths(args: argparse.Namespace) -> int:
    """Open the window on a project folder, or on the project of a set of images."""
    from core.demo.projects import is_project_folder, open_images_project, resolve_paths

    paths = resolve_paths(args.paths)
    if len(paths) == 1 and paths[0].is_dir() and is_project_folder(paths[0]):
        args.project = str(paths[0])
        return run_open(args)
    if args.read_only:
        raise SkinTraceError("--read-only opens a project folder; images need importing")
    check_display()
    from .progress import drive

    last = drive(open_images_project(paths), desc="importing", quiet=args.quiet)
    if last is None:  # pragma: no cover - the generator always ends with its summary
        raise SkinTraceError("the import ended without a result")
    info = last.info
    verb = "created" if info["created"] else "reopened"
    print(f"project {verb}: {info['folder']} ({info['images']} image(s))")
    for line in info["summary"].lines():
        print(f"  {line}")
    from app.gui.app import run_window

    return run_window(info["folder"])
