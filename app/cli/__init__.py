"""The ``skintrace`` command line.

Each group of subcommands lives in its own module with a ``register(subparsers)``
function that adds its parsers and sets ``func`` on them. Commands import heavy
modules (torch, Qt) inside ``func`` so ``skintrace --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from core.errors import SkinTraceError

from . import face_cmds, gui_cmds, model_cmds, project_cmds, team_cmds, workflow_cmds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skintrace",
        usage="%(prog)s [-h] [--version] [COMMAND ... | PATH ...]",
        description="Semi-automatic annotation of facial wrinkles and pores. "
        "With no command, opens the annotation window on the built-in demo project.",
        epilog=gui_cmds.PATHS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version="skintrace 0.1.0")
    # prog: subcommand usage reads "skintrace train ...", not the custom top-level usage.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="skintrace")
    for module in (gui_cmds, project_cmds, workflow_cmds, model_cmds, face_cmds, team_cmds):
        module.register(sub)
    return parser


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    """Names of the subcommands (they take priority over paths)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in _commands(parser):
        # `skintrace PATH...`: argparse subparsers would reject an unknown positional.
        parser = gui_cmds.paths_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        func = gui_cmds.run_demo
    try:
        return int(func(args) or 0)
    except SkinTraceError as exc:
        print(f"skintrace: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`skintrace status P | head`): stop quietly, as cat does.
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a command cut off this way
    except OSError as exc:
        # File-system trouble the commands do not foresee (permissions, a file where a
        # folder should be, ...): one line naming the path, not a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"skintrace: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("skintrace: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
