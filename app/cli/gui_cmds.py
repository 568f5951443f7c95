"""Subcommands that open the annotation window: ``skintrace`` and ``skintrace open``."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``open`` to the skintrace parser."""
    p = sub.add_parser("open", help="open a project in the annotation window")
    p.add_argument("project", help="project folder (made by `skintrace project create`)")
    p.add_argument("--read-only", action="store_true", help="open without write access")
    p.set_defaults(func=run_open)


def run_open(args: argparse.Namespace) -> int:
    """Open the annotation window on ``args.project``."""
    from app.gui.app import run_window
    from core.project import Project

    # Fail on the command line, before any window, if the folder is not a project.
    Project.open(args.project, read_only=True).close()

    return run_window(args.project, read_only=args.read_only)


def run_demo(args: argparse.Namespace) -> int:
    """Open the annotation window on the built-in demo project (made on first run)."""
    from app.gui.app import run_window
    from core.demo import ensure_demo_project

    return run_window(ensure_demo_project())
