"""One simulated team member for the concurrency test (a real process; may be SIGKILLed).

    python -m tests.core.team_worker ADDRESS ROOT ROLE USER SEED OPS JOURNAL

ROLE ``annotator``: claims an image (mostly from its own queue; sometimes any image
without a claim, as a window whose claim ran out would), reads the masks and their
revisions, paints a mask whose first 16 pixels spell a unique tag, saves with the base
revisions (a stale save is refused), sometimes submits, releases the claim.
ROLE ``reviewer``: accepts or rejects submitted images.

After each operation COMMITS, one JSON line goes to JOURNAL (flushed and fsynced): a
process killed between a commit and its journal line loses at most that one line, which
the test allows for per kill.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

import numpy as np

TAG_BITS = 16


def tag_mask(shape: tuple[int, int], tag: int, rng: random.Random) -> np.ndarray:
    """A mask whose first row spells ``tag`` in binary (plus random paint below)."""
    mask = np.zeros(shape, bool)
    mask[0, :TAG_BITS] = [(tag >> b) & 1 for b in range(TAG_BITS)]
    r, c = rng.randrange(2, shape[0] - 2), rng.randrange(0, shape[1] - 2)
    mask[r : r + 2, c : c + 2] = True
    return mask


def read_tag(mask: np.ndarray) -> int:
    return sum(int(v) << b for b, v in enumerate(mask[0, :TAG_BITS]))


class Journal:
    def __init__(self, path: str) -> None:
        self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the run)

    def write(self, **entry: Any) -> None:
        self.f.write(json.dumps(entry) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())


def annotator(
    project: Any, user: str, rng: random.Random, ops: int, journal: Journal, wid: int
) -> None:
    from core.errors import ProjectError
    from core.project import Status
    from core.project.claims import ClaimedError, Claims
    from core.project.team import queue

    claims = Claims(project.db, user=user, lease_s=5.0)
    all_ids = [r.id for r in project.images()]
    for op in range(ops):
        own = queue(project.db, user, claims=claims.all(), me=claims.host)
        sneaky = rng.random() < 0.25 or not own
        iid = rng.choice(all_ids) if sneaky else rng.choice(own)
        if not sneaky:
            try:
                claims.claim(iid)
            except ClaimedError:
                continue
        base = project.mask_revisions(iid)
        masks = project.load_rough(iid)
        cls = rng.choice(["wrinkle", "pore"])
        tag = (wid << 12) | (op & 0xFFF)
        shape = next(iter(masks.values())).shape
        masks = {cls: tag_mask(shape, tag, rng)}
        if sneaky or rng.random() < 0.3:  # a window whose masks grow old meanwhile
            time.sleep(0.005 + rng.random() * 0.03)
        try:
            project.save_rough(iid, masks, base_revisions=base)
            journal.write(
                op="save", image=iid, cls=cls, rev=int(base.get(cls, 0)) + 1, tag=tag, user=user
            )
        except ProjectError as exc:
            if type(exc).__name__ != "StaleSaveError":
                raise
            journal.write(op="stale", image=iid, cls=cls, user=user)
        if rng.random() < 0.35:
            try:
                status = project.image(iid).status
                if status in (Status.REJECTED, Status.ACCEPTED):
                    project.set_status(iid, Status.IN_PROGRESS)
                    journal.write(op="status", image=iid, to="in_progress", user=user)
                project.set_status(iid, Status.SUBMITTED)
                journal.write(op="status", image=iid, to="submitted", user=user)
            except ProjectError as exc:  # a reviewer moved it meanwhile: refused, not lost
                journal.write(op="refused", image=iid, why=str(exc)[:80], user=user)
        if not sneaky:
            claims.release(iid)
    claims.release_all()


def reviewer(project: Any, user: str, rng: random.Random, ops: int, journal: Journal) -> None:
    from core.errors import ProjectError
    from core.project import Status

    for _ in range(ops):
        submitted = [r.id for r in project.images(status="submitted")]
        if not submitted:
            time.sleep(0.005)
            continue
        iid = rng.choice(submitted)
        target = Status.ACCEPTED if rng.random() < 0.6 else Status.REJECTED
        try:
            project.set_status(iid, target)
            journal.write(op="status", image=iid, to=target.value, user=user)
        except ProjectError as exc:
            journal.write(op="refused", image=iid, why=str(exc)[:80], user=user)


def main(argv: list[str]) -> int:
    address, root, role, user, seed, ops, journal_path = argv
    from pathlib import Path

    from tests.core.team_helpers import open_team

    rng = random.Random(int(seed))
    journal = Journal(journal_path)
    with open_team(address, user=user, root=Path(root)) as project:
        journal.write(op="start", pid=os.getpid(), user=user)
        if role == "annotator":
            annotator(project, user, rng, int(ops), journal, wid=int(seed) % 16)
        else:
            reviewer(project, user, rng, int(ops), journal)
        journal.write(op="end", pid=os.getpid(), user=user)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
