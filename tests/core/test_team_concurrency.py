"""Two annotators and a reviewer, three real processes, on one PostgreSQL team project;
one annotator is SIGKILLed at random moments and restarted. Afterwards:

- no lost save: each (image, class) revision counts every journaled save (plus at most
  one unjournaled commit per kill), and the stored mask is the newest save's;
- no save overwritten by a stale one: no two successful saves of one (image, class)
  were based on the same revision;
- leases released: no live claim is left;
- history complete: every image's history is an unbroken chain ending in its status,
  and every journaled status move is in it.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.errors import ProjectError
from core.project.claims import Claims
from tests.core.team_helpers import make_pg_project, open_team
from tests.core.team_worker import read_tag

ROOT = Path(__file__).resolve().parents[2]
OPS = {"ana": 90, "bo": 90, "rev": 120}
KILLS = 2


def _spawn(
    address: str, root: Path, role: str, user: str, seed: int, journal: Path
) -> subprocess.Popen:
    ops = OPS[user]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.core.team_worker",
            address,
            str(root),
            role,
            user,
            str(seed),
            str(ops),
            str(journal),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _entries(journal: Path) -> list[dict]:
    out: list[dict] = []
    if not journal.exists():
        return out
    for line in journal.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:  # a line cut by SIGKILL
            pass
    return out


def test_two_annotators_and_a_reviewer_with_sigkills(pg_url, tmp_path):
    project = make_pg_project(pg_url, tmp_path, n=8)
    address, root = pg_url, project.root
    journals = {u: tmp_path / f"{u}.jsonl" for u in OPS}
    rng = random.Random(7)
    procs = {
        "ana": _spawn(address, root, "annotator", "ana", 1, journals["ana"]),
        "bo": _spawn(address, root, "annotator", "bo", 2, journals["bo"]),
        "rev": _spawn(address, root, "reviewer", "rev", 3, journals["rev"]),
    }
    kills, seed = 0, 17
    deadline = time.monotonic() + 60
    while kills < KILLS and time.monotonic() < deadline:
        # kill bo at a random point of its work: after 3-15 operations since it started
        wanted = rng.randint(3, 15)
        victim = procs["bo"]
        while victim.poll() is None and time.monotonic() < deadline:
            ops = _entries(journals["bo"])
            starts = [k for k, e in enumerate(ops) if e["op"] == "start"]
            if len(starts) > kills and len(ops) - starts[-1] > wanted:
                break
            time.sleep(0.02)
        if victim.poll() is not None:
            break  # it finished before the kill: fewer kills, same invariants
        time.sleep(rng.uniform(0, 0.05))  # anywhere inside an operation
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        kills += 1
        procs["bo"] = _spawn(address, root, "annotator", "bo", seed, journals["bo"])
        seed += 1
    for user, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{user} failed:\n{out[-3000:]}"

    entries = [e for j in journals.values() for e in _entries(j)]
    assert kills == KILLS and sum(e["op"] == "start" for e in entries) == 3 + kills
    saves = [e for e in entries if e["op"] == "save"]
    assert len(saves) > 50

    # No save overwritten by a stale one: each revision was produced once.
    produced = Counter((e["image"], e["cls"], e["rev"]) for e in saves)
    assert max(produced.values()) == 1, [k for k, n in produced.items() if n > 1]

    # No lost save: revisions count every save; the stored mask is the newest one.
    by_key = defaultdict(list)
    for e in saves:
        by_key[(e["image"], e["cls"])].append(e)
    for (image, cls), done in by_key.items():
        stored = project.mask_revisions(image)[cls]
        assert len(done) <= stored <= len(done) + kills, (image, cls)
        newest = max(done, key=lambda e: e["rev"])
        if newest["rev"] == stored:
            assert read_tag(project.load_rough(image)[cls]) == newest["tag"], (image, cls)

    # Leases released: the survivors released theirs, the killed process's are dead.
    assert Claims(project.db, user="check").all() == {}

    # History complete: an unbroken chain per image, holding every journaled move.
    history = project.history()
    chains = defaultdict(list)
    for h in history:
        chains[h.image_id].append(h)
    for record in project.images():
        previous = None
        for h in chains[record.id]:
            assert h.from_status == previous or (previous is None and h.from_status is None)
            previous = h.to_status
        assert (previous or record.status) == record.status
    moves = Counter((e["image"], e["to"], e["user"]) for e in entries if e["op"] == "status")
    recorded = Counter((h.image_id, h.to_status.value, h.user) for h in history)
    assert not moves - recorded, moves - recorded
    # A save from an old base is refused, here on purpose (the run has its own, by chance).
    image = project.images()[0].id
    base = project.mask_revisions(image)
    shape = project.load_rough(image)["pore"].shape
    with open_team(address, user="late", root=root) as late:
        late.save_rough(image, {"pore": np.ones(shape, bool)})
    with pytest.raises(ProjectError, match="saved by late"):
        project.save_rough(image, {"pore": np.zeros(shape, bool)}, base_revisions=base)
    assert project.load_rough(image)["pore"].all()

    project.close()
