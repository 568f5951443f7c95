"""Subcommands: placeholder, filled in by its issue."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the skintrace parser."""


def run_demo(args: argparse.Namespace) -> int:
    """Open the annotation window on the demo project (until the GUI lands: print help)."""
    from app.cli import build_parser

    build_parser().print_help()
    return 0
