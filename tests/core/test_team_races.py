"""Three connections racing on one image of a team project (PostgreSQL, READ COMMITTED):
optimistic saves never both succeed from one base, and status moves never both act on
one old status (the history stays one unbroken chain)."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np

from core.errors import ProjectError
from core.project import Status
from tests.core.team_helpers import make_pg_project, open_team

ROUNDS = 60


def _race(url: str, root, users: list[str], work) -> list:
    results: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(users))

    def run(k: int, user: str) -> None:
        try:
            with open_team(url, user=user, root=root) as project:
                barrier.wait()
                for i in range(ROUNDS):
                    results.append(work(project, k, i))
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k, u)) for k, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_racing_saves_from_one_base_never_both_succeed(pg_url, tmp_path):
    with make_pg_project(pg_url, tmp_path, n=2) as p:
        image = p.images()[0].id
        shape = p.load_rough(image)["wrinkle"].shape

        def save(project, k, i):
            base = project.mask_revisions(image)
            mask = np.random.default_rng(k * 1000 + i).random(shape) > 0.5
            try:
                project.save_rough(image, {"wrinkle": mask}, base_revisions=base)
            except ProjectError as exc:
                assert "after you opened it" in str(exc)
                return None
            return base["wrinkle"] + 1

        done = [r for r in _race(pg_url, p.root, ["ana", "bo", "cy"], save) if r is not None]
        assert max(Counter(done).values()) == 1  # each revision made by one save
        assert p.mask_revisions(image)["wrinkle"] == len(done)  # and none lost


def test_racing_status_moves_keep_one_history_chain(pg_url, tmp_path):
    with make_pg_project(pg_url, tmp_path, n=2) as p:
        image = p.images()[0].id
        p.set_status(image, Status.IN_PROGRESS)
        moves = {
            Status.IN_PROGRESS: Status.SUBMITTED,
            Status.SUBMITTED: Status.ACCEPTED,
            Status.ACCEPTED: Status.IN_PROGRESS,
        }

        def move(project, k, i):
            current = project.image(image).status
            try:
                project.set_status(image, moves[current])
            except ProjectError:
                return False  # someone moved it first: refused, not doubled
            return True

        _race(pg_url, p.root, ["ana", "bo", "rev"], move)
        history = [h for h in p.history(image)]
        for before, after in zip(history, history[1:], strict=False):
            assert after.from_status == before.to_status
        assert history[-1].to_status == p.image(image).status
