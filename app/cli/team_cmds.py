"""``skintrace team ...``: move projects to and from a team catalog on PostgreSQL.

Connection strings are libpq's (``postgresql://user@host/db``, ``service=skin``);
passwords come from ``~/.pgpass``/``PGPASSFILE``, a service file or the environment and
are never printed (see docs/team.md).
"""

from __future__ import annotations

import argparse
import sys

from . import team_work_cmds

URL_HELP = "team project: postgresql://[user@]host[:port]/database or a libpq conninfo"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``team push``, ``team pull`` and ``team root``."""
    team = sub.add_parser(
        "team",
        help="team projects on PostgreSQL: push, pull, image root",
        description="Team projects: the catalog in PostgreSQL, the images on a share.",
    )
    cmds = team.add_subparsers(dest="team_command", metavar="ACTION", required=True)
    team_work_cmds.register_commands(cmds)  # assign, stats, claims (docs/team-workflow.md)

    p = cmds.add_parser(
        "push",
        help="upload a local project into a new team project",
        description="Upload PROJECT (a folder) into the empty database URL: every image "
        "row, status, history entry, comment, mask, pre-label and setting.",
    )
    p.add_argument("project", help="local project folder")
    p.add_argument("url", help=URL_HELP)
    p.add_argument(
        "--root",
        help="the team's image share as this machine mounts it (default: the project "
        "folder); images copied into the project are copied there",
    )
    p.set_defaults(func=run_push)

    p = cmds.add_parser(
        "pull",
        help="make a local copy of a team project",
        description="Copy the team project URL into FOLDER (new or empty), history included.",
    )
    p.add_argument("url", help=URL_HELP)
    p.add_argument("folder", help="new local project folder")
    p.add_argument("--root", help="this machine's image root (default: the remembered one)")
    p.set_defaults(func=run_pull)

    p = cmds.add_parser(
        "root",
        help="show or set where this machine finds a team project's images",
        description="Show, or with DIR set, this machine's image root for the team project URL.",
    )
    p.add_argument("url", help=URL_HELP)
    p.add_argument("dir", nargs="?", help="the share's folder on this machine")
    p.set_defaults(func=run_root)


def _summary(verb: str, result: object) -> str:
    rows = getattr(result, "rows", {})
    return (
        f"{verb} {rows.get('images', 0)} images, {rows.get('history', 0)} history entries, "
        f"{getattr(result, 'blobs', 0)} masks/pre-labels; image root "
        f"{getattr(result, 'image_root', None) or '(none)'}"
    )


def run_push(args: argparse.Namespace) -> int:
    from core.project.pg.database import describe
    from core.project.transfer import push

    result = push(args.project, args.url, root=args.root)
    print(_summary("pushed", result) + f" -> {describe(args.url)}")
    return 0


def run_pull(args: argparse.Namespace) -> int:
    from core.project.transfer import pull

    result = pull(args.url, args.folder, root=args.root)
    print(_summary("pulled", result) + f" -> {args.folder}")
    if result.missing:
        print(
            f"skintrace: warning: {result.missing} image files were not found under the "
            "image root; the copy lists them as missing (relink them, or pull again with "
            "--root)",
            file=sys.stderr,
        )
    return 0


def run_root(args: argparse.Namespace) -> int:
    from core.errors import ProjectError
    from core.project.pg.database import PostgresDatabase
    from core.project.pg.roots import image_root, set_image_root
    from core.project.pg.team import PROJECT_ID

    db = PostgresDatabase(args.url, read_only=True)
    try:
        with db.read() as tx:
            project_id = tx.scalar("SELECT value FROM meta WHERE key = ?", (PROJECT_ID,))
    finally:
        db.close()
    if not project_id:
        raise ProjectError(f"team project {db.describe} holds no project yet")
    if args.dir:
        print(set_image_root(project_id, args.dir))
    else:
        root = image_root(project_id)
        print(root if root else "(no image root set on this machine)")
    return 0
