"""Team work subcommands: ``skintrace team assign|stats|claims`` (docs/team-workflow.md).

Added to the ``team`` group of :mod:`app.cli.team_cmds` by :func:`register_commands`.

``PROJECT`` is a project folder or a team project's ``postgresql://`` address (the
password comes from ``$PGPASSWORD`` or ``~/.pgpass``, never from the command line).
"""

from __future__ import annotations

import argparse
import csv
import sys
from contextlib import AbstractContextManager
from typing import Any

_HOW = ("round-robin", "count", "folder")


def _open(target: str, *, user: str | None = None, read_only: bool = False) -> Any:
    """Open a project folder or a team database address."""
    from core.project import Project

    opener: Any = getattr(Project, "open_any", None) or Project.open
    project: AbstractContextManager[Any] = opener(target, read_only=read_only, user=user)
    return project


def register_commands(tsub: argparse._SubParsersAction) -> None:
    """Add ``assign``, ``stats`` and ``claims`` to the ``team`` group's subparsers."""
    p = tsub.add_parser(
        "assign",
        help="assign images to annotators (round-robin, by count, by folder)",
        description="Hand out images to annotators. Only images not yet assigned and not "
        "accepted are handed out, unless --reassign or IDs are given.",
    )
    p.add_argument("project", help="project folder or postgresql:// address")
    p.add_argument("users", nargs="+", metavar="USER", help="annotators, in order")
    p.add_argument("--how", choices=_HOW, default="round-robin", help="default: round-robin")
    p.add_argument("--count", type=int, help="images per annotator for --how count")
    p.add_argument("--folder", help="only images under this folder (relative to the import)")
    p.add_argument("--ids", type=_ids, help="only these image ids, e.g. 1-20,31")
    p.add_argument("--reassign", action="store_true", help="also move assigned images")
    p.add_argument("--user", help="who assigns (history; default $SKINTRACE_USER)")
    p.set_defaults(func=cmd_assign)

    p = tsub.add_parser(
        "stats",
        help="per-person summary: assigned, open, done, accepted, rejected, time spent",
    )
    p.add_argument("project", help="project folder or postgresql:// address")
    p.add_argument("--csv", action="store_true", help="CSV on stdout instead of a table")
    p.set_defaults(func=cmd_stats)

    p = tsub.add_parser("claims", help="who has which image open (live claims)")
    p.add_argument("project", help="project folder or postgresql:// address")
    p.add_argument(
        "--release-expired", action="store_true", help="also delete claims whose lease ran out"
    )
    p.set_defaults(func=cmd_claims)


def _ids(text: str) -> list[int]:
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of ids like 1-20,31") from None
    return out


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


def cmd_assign(args: argparse.Namespace) -> int:
    from core.project.team import assign

    with _open(args.project, user=args.user) as project:
        plan = assign(
            project.db,
            args.users,
            how=args.how,
            count=args.count,
            image_ids=args.ids,
            folder=args.folder,
            reassign=args.reassign or args.ids is not None,
        )
    total = sum(len(v) for v in plan.values())
    print(f"assigned {total} image(s) ({args.how})")
    for user, ids in plan.items():
        print(f"  {user}: {len(ids)}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from core.project.team import STATS_HEADER, stats, stats_rows

    with _open(args.project, read_only=True) as project:
        rows = stats_rows(stats(project.db))
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(STATS_HEADER)
        writer.writerows(rows)
    elif rows:
        _table(STATS_HEADER, rows)
    else:
        print("no one has worked on this project yet; `skintrace team assign` hands out images")
    return 0


def cmd_claims(args: argparse.Namespace) -> int:
    from core.project.claims import Claims

    with _open(args.project, read_only=not args.release_expired) as project:
        claims = Claims(project.db, user=project.user)
        if args.release_expired:
            n = claims.expire()
            print(f"removed {n} expired claim(s)")
        live = claims.all()
    if not live:
        print("no image is open by anyone")
    rows = [
        (str(c.image_id), c.user, c.machine, c.claimed_utc, c.expires_utc) for c in live.values()
    ]
    if rows:
        _table(
            ("image", "user", "machine", "since (UTC)", "until (UTC)"),
            sorted(rows, key=lambda r: int(r[0])),
        )
    return 0
