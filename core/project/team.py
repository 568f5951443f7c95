"""Team work on one project: assignments, per-person queues and the per-person summary.

- An admin assigns images to annotators (``assign``: round-robin, by count, by folder);
  one row per image in ``assignments``.
- Each annotator's queue (``queue``) is their unfinished images (new, pre-labeled, in
  progress, rejected) in id order. A rejected image belongs to whoever submitted it last,
  whatever the assignment says: it goes back to the person who made it.
- ``stats`` is the per-person summary computed from the status history (see
  :class:`PersonStats` for what each number counts) plus the time spent, recorded by
  :func:`add_work_time` (``team.worked/<user>/<image id>`` settings rows).

Every function takes the project's database (``project.db``, the Database/Tx API of
:mod:`core.project.db`) and works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from core.errors import ProjectError
from core.project.claims import Claim
from core.project.records import utc_now
from core.project.status import Status

AssignHow = Literal["round-robin", "count", "folder"]
ASSIGN_HOW: tuple[str, ...] = ("round-robin", "count", "folder")

#: Statuses an annotator still has work on.
UNFINISHED = (Status.NEW, Status.PRELABELED, Status.IN_PROGRESS, Status.REJECTED)

#: Settings-key prefix of the time-spent counters.
WORKED_PREFIX = "team.worked/"
#: A gap between two saves longer than this counts as this much (a coffee break).
MAX_GAP_S = 600.0


# ---------------------------------------------------------------------- assignment


def plan_assignment(
    images: Sequence[tuple[int, str]],
    users: Sequence[str],
    *,
    how: AssignHow = "round-robin",
    count: int | None = None,
) -> dict[int, str]:
    """Who gets which image, without touching the database.

    Parameters
    ----------
    images : sequence of (image id, name)
        The images to hand out; ``name`` is the path relative to the import folder.
    users : sequence of str
        Annotators, in order.
    how : {"round-robin", "count", "folder"}
        ``round-robin``: image k (by id) to user k mod n. ``count``: the first ``count``
        images to the first user, the next ``count`` to the second, ... (images left over
        stay unassigned; without ``count``, even blocks). ``folder``: whole folders, the
        largest first, each to the user with the fewest images so far.
    count : int, optional
        Images per user for ``how="count"``.
    """
    users = [u.strip() for u in users]
    if not users or any(not u for u in users):
        raise ProjectError("name at least one annotator (no empty names)")
    if len(set(users)) != len(users):
        raise ProjectError("an annotator is named twice; name each once")
    ordered = sorted(images)
    n = len(users)
    if how == "round-robin":
        return {iid: users[k % n] for k, (iid, _) in enumerate(ordered)}
    if how == "count":
        if count is None:
            count = math.ceil(len(ordered) / n) if ordered else 1
        if count < 1:
            raise ProjectError(f"assign at least 1 image per annotator, not {count}")
        return {iid: users[k // count] for k, (iid, _) in enumerate(ordered[: count * n])}
    if how == "folder":
        folders: dict[str, list[int]] = defaultdict(list)
        for iid, name in ordered:
            folders[str(PurePosixPath(name.replace("\\", "/")).parent)].append(iid)
        load = dict.fromkeys(users, 0)
        plan: dict[int, str] = {}
        for _, ids in sorted(folders.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            user = min(users, key=lambda u: (load[u], users.index(u)))
            load[user] += len(ids)
            plan.update(dict.fromkeys(ids, user))
        return plan
    raise ProjectError(f"unknown assignment {how!r}; use one of {', '.join(ASSIGN_HOW)}")


def assign(
    db: Any,
    users: Sequence[str],
    *,
    how: AssignHow = "round-robin",
    count: int | None = None,
    image_ids: Iterable[int] | None = None,
    folder: str | None = None,
    reassign: bool = False,
) -> dict[str, list[int]]:
    """Assign images to annotators and return ``{user: [image ids]}`` of what changed.

    Candidates: ``image_ids`` if given, else every image not yet accepted; ``folder``
    keeps those whose name lies under that folder (relative to the import folder).
    Already-assigned images keep their annotator unless ``reassign``.
    """
    wanted = None if image_ids is None else set(int(i) for i in image_ids)
    prefix = folder.strip("/").replace("\\", "/") + "/" if folder else None
    with db.transaction() as tx:
        rows = tx.query(
            "SELECT i.id, i.name, i.status, a.user_name FROM images i "
            "LEFT JOIN assignments a ON a.image_id = i.id ORDER BY i.id"
        )
        if wanted is not None and (missing := wanted - {int(r[0]) for r in rows}):
            raise ProjectError(f"no image {min(missing)} in this project")
        pool = []
        for iid, name, status, owner in rows:
            if wanted is not None and iid not in wanted:
                continue
            if wanted is None and status == Status.ACCEPTED.value:
                continue
            if prefix and not str(name).replace("\\", "/").startswith(prefix):
                continue
            if owner is not None and not reassign:
                continue
            pool.append((int(iid), str(name)))
        plan = plan_assignment(pool, users, how=how, count=count)
        now = utc_now()
        for iid, user in plan.items():
            tx.execute(
                "INSERT INTO assignments(image_id, user_name, assigned_utc) VALUES (?, ?, ?) "
                "ON CONFLICT(image_id) DO UPDATE SET user_name = excluded.user_name, "
                "assigned_utc = excluded.assigned_utc",
                (iid, user, now),
            )
    result: dict[str, list[int]] = {u.strip(): [] for u in users}
    for iid, user in sorted(plan.items()):
        result[user].append(iid)
    return result


def unassign(db: Any, image_ids: Iterable[int]) -> int:
    """Remove the assignment of these images; returns how many had one."""
    with db.transaction() as tx:
        return sum(
            int(tx.execute("DELETE FROM assignments WHERE image_id = ?", (int(i),)))
            for i in image_ids
        )


def assignments(db: Any) -> dict[int, str]:
    """``{image id: annotator}`` of every assigned image."""
    with db.read() as tx:
        rows = tx.query("SELECT image_id, user_name FROM assignments")
    return {int(i): str(u) for i, u in rows}


# ---------------------------------------------------------------------- queues


def owners(db: Any) -> dict[int, tuple[Status, str | None]]:
    """``{image id: (status, owner)}``: the owner is the last submitter of a rejected
    image, else the assigned annotator (None when unassigned). Two queries."""
    with db.read() as tx:
        rows = tx.query(
            "SELECT i.id, i.status, a.user_name FROM images i "
            "LEFT JOIN assignments a ON a.image_id = i.id"
        )
        submitters = tx.query(
            "SELECT h.image_id, h.user_name FROM history h JOIN images i ON i.id = h.image_id "
            "WHERE i.status = ? AND h.to_status = ? ORDER BY h.id",
            (Status.REJECTED.value, Status.SUBMITTED.value),
        )
    last = {int(i): str(u) for i, u in submitters}  # ordered by id: the last one wins
    out: dict[int, tuple[Status, str | None]] = {}
    for iid, status, user in rows:
        st = Status(status)
        owner = last.get(int(iid)) if st is Status.REJECTED else None
        out[int(iid)] = (st, owner or (str(user) if user is not None else None))
    return out


def queue(
    db: Any, user: str, *, claims: Mapping[int, Claim] | None = None, me: str | None = None
) -> list[int]:
    """The unfinished images ``user`` owns, in id order.

    With ``claims`` (live claims by image), images someone else holds are left out;
    ``me`` is this process's holder string (its own claims stay in).
    """
    held = claims or {}
    return sorted(
        iid
        for iid, (status, owner) in owners(db).items()
        if owner == user
        and status in UNFINISHED
        and not (iid in held and (held[iid].user != user or (me and held[iid].host != me)))
    )


def next_in_queue(
    db: Any,
    user: str,
    *,
    after: int | None = None,
    claims: Mapping[int, Claim] | None = None,
    me: str | None = None,
) -> int | None:
    """The next image of ``user``'s queue after ``after`` (wrapping round), or None."""
    ids = [i for i in queue(db, user, claims=claims, me=me) if i != after]
    if not ids:
        return None
    if after is None:
        return ids[0]
    later = [i for i in ids if i > after]
    return later[0] if later else ids[0]


def first_in_queue(db: Any, user: str, *, me: str | None = None) -> int | None:
    """Where ``user`` starts work: the first image of their queue nobody else holds.

    None when nothing is assigned to them (the window then starts as in a folder project).
    """
    from core.project.claims import Claims, this_host

    if user not in assignments(db).values():
        return None
    live = Claims(db, user=user).all()
    return next_in_queue(db, user, claims=live, me=me or this_host())


# ---------------------------------------------------------------------- saves


def revisions_after_save(
    db: Any, image_id: int, base: Mapping[str, int], *, user: str
) -> dict[str, int]:
    """The ``base_revisions`` for the next save of a window that just saved ``image_id``.

    A class whose stored revision is still ``base`` was unchanged (not rewritten); one
    at ``base + 1`` saved by ``user`` is this save. Anything else means someone else saved
    after this window's save: the old base is kept, so the next save is refused as stale
    rather than overwriting their work.
    """
    with db.read() as tx:
        rows = tx.query(
            "SELECT class, revision, user_name FROM masks WHERE image_id = ?", (image_id,)
        )
    stored = {str(c): (int(r), str(u)) for c, r, u in rows}
    out = dict(base)
    for cls, old in base.items():
        rev, who = stored.get(cls, (0, ""))
        if rev == int(old) + 1 and who == user:
            out[cls] = rev
    return out


# ---------------------------------------------------------------------- time spent


def add_work_time(db: Any, user: str, image_id: int, seconds: float) -> float:
    """Add ``seconds`` (capped at :data:`MAX_GAP_S`) to ``user``'s time on ``image_id``.

    The window calls it on each save with the time since the image was opened or last
    saved, so time spent = the sum of open-to-save intervals, each at most 10 minutes.
    Only the holder of an image's claim writes its counter, so the read-add-write in one
    transaction does not race. Returns the new total for that image.
    """
    seconds = min(max(float(seconds), 0.0), MAX_GAP_S)
    key = f"{WORKED_PREFIX}{user}/{int(image_id)}"
    with db.transaction() as tx:
        old = tx.scalar("SELECT value_json FROM settings WHERE key = ?", (key,))
        total = round(_seconds(old) + seconds, 3)
        tx.execute(
            "INSERT INTO settings(key, value_json) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
            (key, json.dumps(total)),
        )
    return total


def _seconds(text: Any) -> float:
    try:
        value = float(json.loads(text)) if text is not None else 0.0
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) and value >= 0 else 0.0


# ---------------------------------------------------------------------- summary


@dataclass(frozen=True)
class PersonStats:
    """One person's summary (``skintrace team stats``, the Team dock).

    - ``assigned``: images assigned to them; ``open``: unfinished images they own.
    - ``done``: distinct images they submitted at least once.
    - ``accepted`` / ``rejected``: review decisions on their submissions (each decision
      goes to whoever made the submission it judged; an image rejected twice counts 2).
    - ``reviewed``: accept/reject decisions they made as a reviewer.
    - ``seconds``: time spent annotating (sum of open-to-save intervals, see
      :func:`add_work_time`).
    """

    user: str
    assigned: int = 0
    open: int = 0
    done: int = 0
    accepted: int = 0
    rejected: int = 0
    reviewed: int = 0
    seconds: float = 0.0

    @property
    def hours(self) -> str:
        s = int(round(self.seconds))
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


STATS_HEADER = ("user", "assigned", "open", "done", "accepted", "rejected", "reviewed", "time")


def stats(db: Any) -> list[PersonStats]:
    """Per-person summary of the whole project, sorted by user name (four queries)."""
    with db.read() as tx:
        history = tx.query(
            "SELECT image_id, from_status, to_status, user_name FROM history ORDER BY id"
        )
        worked = tx.query(
            "SELECT key, value_json FROM settings WHERE substr(key, 1, ?) = ?",
            (len(WORKED_PREFIX), WORKED_PREFIX),
        )
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"done": set(), "accepted": 0, "rejected": 0, "reviewed": 0, "seconds": 0.0}
    )
    submitter: dict[int, str] = {}
    for iid, src, dst, user in history:
        if dst == Status.SUBMITTED.value:
            submitter[iid] = user
            acc[user]["done"].add(iid)
        elif src == Status.SUBMITTED.value and dst in (Status.ACCEPTED, Status.REJECTED):
            acc[user]["reviewed"] += 1
            if iid in submitter:
                acc[submitter[iid]][str(dst)] += 1
    for key, text in worked:
        user = str(key)[len(WORKED_PREFIX) :].rpartition("/")[0]
        if user:
            acc[user]["seconds"] += _seconds(text)
    assigned: dict[str, int] = defaultdict(int)
    open_: dict[str, int] = defaultdict(int)
    for user in assignments(db).values():
        assigned[user] += 1
    for status, owner in owners(db).values():
        if owner is not None and status in UNFINISHED:
            open_[owner] += 1
    people = set(acc) | set(assigned) | set(open_)
    return [
        PersonStats(
            user=u,
            assigned=assigned[u],
            open=open_[u],
            done=len(acc[u]["done"]),
            accepted=acc[u]["accepted"],
            rejected=acc[u]["rejected"],
            reviewed=acc[u]["reviewed"],
            seconds=round(acc[u]["seconds"], 1),
        )
        for u in sorted(people)
    ]


def stats_rows(people: Sequence[PersonStats]) -> list[tuple[str, ...]]:
    """The summary as text rows under :data:`STATS_HEADER` (CLI table, dock, CSV)."""
    return [
        (
            p.user,
            str(p.assigned),
            str(p.open),
            str(p.done),
            str(p.accepted),
            str(p.rejected),
            str(p.reviewed),
            p.hours,
        )
        for p in people
    ]
