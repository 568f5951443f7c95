"""Subcommands that open the annotation window: ``skintrace`` and ``skintrace open``."""

from __future__ import annotations

import argparse
import os
import sys

from core.errors import SkinTraceError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``open`` to the skintrace parser."""
    p = sub.add_parser(
        "open",
        help="open a project in the annotation window",
        description="Open a project in the annotation window (needs a display).",
    )
    p.add_argument("project", help="project folder (made by `skintrace new`)")
    p.add_argument("--read-only", action="store_true", help="open without write access")
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
    Project.open(args.project, read_only=True).close()
    check_display()
    from app.gui.app import run_window

    return run_window(args.project, read_only=args.read_only)


def run_demo(args: argparse.Namespace) -> int:
    """Open the annotation window on the built-in demo project (made on first run)."""
    check_display()
    from app.gui.app import run_window
    from core.demo import ensure_demo_project

    return run_window(ensure_demo_project())
