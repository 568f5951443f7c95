"""``skintrace mark``: the review workflow from the command line.

The same :mod:`core.project.workflow` operations the window's review mode and submit
call: one transaction each, a history row per step. For scripts and for reviewers who
decide outside the window (a team project takes its ``postgresql://`` address).
Accepting a pre-label unedited stays in the window, where the pre-label is seen first.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.project import Project

#: ACTION → what it does (the help text lists them in this order).
ACTIONS = {
    "submit": "hand an image in for review (a finished one is reopened first)",
    "accept": "accept a submitted image",
    "reject": "send a submitted image back to its annotator (--comment required)",
    "reopen": "take an accepted or rejected image back to in progress",
    "reject-prelabel": "discard a pre-label; the image goes back to new",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mark",
        help="submit, accept, reject or reopen images (the review workflow)",
        description="Move images through the review workflow, as the window's review mode "
        "does: "
        + "; ".join(f"{name}: {what}" for name, what in ACTIONS.items())
        + ". Each image moves in one transaction and the history records who and why.",
    )
    p.add_argument("project", help="project folder or a team project's postgresql:// address")
    p.add_argument("action", choices=list(ACTIONS), metavar="ACTION", help=", ".join(ACTIONS))
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image ids or file names")
    p.add_argument("--comment", default="", help="why (recorded in the history)")
    p.add_argument(
        "--user",
        help="name recorded in the history (default: $SKINTRACE_USER, else the login "
        "name; a team project records its PostgreSQL user)",
    )
    p.set_defaults(func=cmd_mark)


def _image_ids(project: Project, names: list[str]) -> list[int]:
    """Ids for ``names`` (ids or file names); SkinTraceError naming any unknown one."""
    from core.errors import ProjectError

    by_name = {r.name: r.id for r in project.images()}
    known = set(by_name.values())
    ids = []
    for name in names:
        image_id = int(name) if name.isdigit() and int(name) in known else by_name.get(name)
        if image_id is None:
            raise ProjectError(f"{project.name} has no image {name!r} (an id or a file name)")
        ids.append(image_id)
    return ids


def cmd_mark(args: argparse.Namespace) -> int:
    from core.errors import ProjectError
    from core.project import Project
    from core.project import workflow as wf
    from core.project.pg.database import is_team_url

    if args.action == "reject" and not args.comment.strip():
        raise ProjectError("reject needs --comment: the annotator sees why")
    user = None if is_team_url(args.project) else args.user
    with Project.open(args.project, user=user) as p:
        ids = _image_ids(p, args.images)
        for image_id in ids:
            comment = args.comment.strip()
            if args.action == "submit":
                change = wf.submit(p, image_id, comment=comment)
            elif args.action == "accept":
                change = wf.accept(p, image_id, comment=comment)
            elif args.action == "reject":
                change = wf.reject(p, image_id, comment=comment)
            elif args.action == "reopen":
                change = wf.reopen(p, image_id, comment=comment)
            else:
                change = wf.reject_prelabel(p, image_id, note=comment)
            name = p.image(image_id).name
            if change.changed:
                print(f"{name}: {change.before.label} -> {change.after.label}")
            else:
                print(f"{name}: already {change.after.label}")
    return 0
