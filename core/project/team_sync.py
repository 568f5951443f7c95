"""Keeping several workstations in step: the refresh snapshot and the retraining lock.

- :func:`snapshot` reads, in one read transaction, what others change under a window:
  every image's status, the live claims and the current model. The window polls it in a
  worker and applies :meth:`TeamSnapshot.changes` (benchmarks/bench_team_refresh.py
  measures the cost with 5 simulated users).
- :class:`RetrainLock`: one retraining at a time per project. A lease row in
  ``settings`` (``team.retrain``) taken by compare-and-swap, atomic on both backends,
  renewed while training runs, free once it is released or its lease ran out (a machine
  that died). On SQLite the project's writer lock already admits one writer; the row
  makes the rule the same on PostgreSQL, where many windows write at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import ProjectError
from core.project.claims import Claim, stamp, this_host
from core.project.status import Status

#: The model log's kind for "this model became current" (core.project.models).
CURRENT_KIND = "current"
RETRAIN_KEY = "team.retrain"
#: A retraining renews its lease at least this often (every epoch, every progress step).
RETRAIN_LEASE_S = 600.0


@dataclass(frozen=True)
class TeamChanges:
    """What changed between two snapshots."""

    statuses: frozenset[int] = frozenset()
    claims: frozenset[int] = frozenset()
    model: bool = False

    def __bool__(self) -> bool:
        return bool(self.statuses or self.claims or self.model)


@dataclass(frozen=True)
class TeamSnapshot:
    """The shared state a window shows: statuses, live claims, current model."""

    statuses: dict[int, Status] = field(default_factory=dict)
    claims: dict[int, Claim] = field(default_factory=dict)
    current_model: int | None = None
    #: Id of the model log row that made it current (changes with every choice).
    model_choice: int | None = None

    def changes(self, older: TeamSnapshot | None) -> TeamChanges:
        """Images whose status or claim differs from ``older`` (all, if None)."""
        if older is None:
            ids = frozenset(self.statuses)
            return TeamChanges(ids, frozenset(self.claims), True)
        st = {i for i, s in self.statuses.items() if older.statuses.get(i) != s}
        st |= set(older.statuses) - set(self.statuses)
        cl = {
            i
            for i in set(self.claims) | set(older.claims)
            if _claim_key(self.claims.get(i)) != _claim_key(older.claims.get(i))
        }
        return TeamChanges(frozenset(st), frozenset(cl), self.model_choice != older.model_choice)


def _claim_key(claim: Claim | None) -> tuple[str, str] | None:
    return None if claim is None else (claim.user, claim.host)


def snapshot(db: Any) -> TeamSnapshot:
    """Read statuses, live claims and the current model in one read transaction."""
    now = stamp(datetime.now(UTC))
    with db.read() as tx:
        statuses = tx.query("SELECT id, status FROM images")
        claims = tx.query(
            "SELECT image_id, user_name, host, claimed_utc, expires_utc FROM claims "
            "WHERE expires_utc > ?",
            (now,),
        )
        # the newest choice of the model log (id and model: a rollback to the same id shows)
        model = tx.one(
            "SELECT id, model_id FROM model_log WHERE kind = ? ORDER BY id DESC LIMIT 1",
            (CURRENT_KIND,),
        )
    live = (Claim(int(i), str(u), str(h), str(c), str(e)) for i, u, h, c, e in claims)
    return TeamSnapshot(
        statuses={int(i): Status(s) for i, s in statuses},
        claims={c.image_id: c for c in live if c.live(now)},
        current_model=None if model is None or model[1] is None else int(model[1]),
        model_choice=None if model is None else int(model[0]),
    )


class RetrainBusyError(ProjectError):
    """Another workstation is retraining this project's model."""


class RetrainLock:
    """One retraining at a time per project (a renewable lease row; see module doc).

    Use as a context manager around a retraining, calling :meth:`renew` on progress::

        with RetrainLock(project.db, user=project.user) as lock:
            for step in train(...):
                lock.renew()
    """

    def __init__(
        self, db: Any, *, user: str, lease_s: float = RETRAIN_LEASE_S, host: str | None = None
    ) -> None:
        self.db = db
        self.user = user
        self.lease_s = float(lease_s)
        self.host = host or this_host()
        self._held: str | None = None  # the row text we wrote (compare-and-swap token)

    def holder(self) -> dict[str, str] | None:
        """``{"user", "host", "since", "expires"}`` of a running retraining, or None."""
        with self.db.read() as tx:
            text = tx.scalar("SELECT value_json FROM settings WHERE key = ?", (RETRAIN_KEY,))
        info = _info(text)
        return info if info and info["expires"] > stamp(datetime.now(UTC)) else None

    def acquire(self) -> None:
        """Take the lock or raise :class:`RetrainBusyError` naming who retrains."""
        now_dt = datetime.now(UTC)
        now = stamp(now_dt)
        mine = self._row(now, now_dt)
        with self.db.transaction() as tx:
            old = tx.scalar("SELECT value_json FROM settings WHERE key = ?", (RETRAIN_KEY,))
            info = _info(old)
            if old is None:
                n = tx.execute(
                    "INSERT INTO settings(key, value_json) VALUES (?, ?) "
                    "ON CONFLICT(key) DO NOTHING",
                    (RETRAIN_KEY, mine),
                )
            elif info is None or info["expires"] <= now:
                n = tx.execute(
                    "UPDATE settings SET value_json = ? WHERE key = ? AND value_json = ?",
                    (mine, RETRAIN_KEY, old),
                )
            else:
                raise _busy(info)
            if n != 1:
                raise _busy(
                    _info(
                        tx.scalar("SELECT value_json FROM settings WHERE key = ?", (RETRAIN_KEY,))
                    )
                )
        self._held = mine

    def renew(self) -> None:
        """Extend the lease; ProjectError if it ran out and someone else took it."""
        if self._held is None:
            raise ProjectError("renew() needs the retraining lock; acquire() it first")
        now_dt = datetime.now(UTC)
        info = json.loads(self._held)
        mine = self._row(info["since"], now_dt)
        with self.db.transaction() as tx:
            n = tx.execute(
                "UPDATE settings SET value_json = ? WHERE key = ? AND value_json = ?",
                (mine, RETRAIN_KEY, self._held),
            )
        if n != 1:
            self._held = None
            raise ProjectError(
                "the retraining lock ran out and another workstation took it; "
                "stop this retraining and retry later"
            )
        self._held = mine

    def release(self) -> None:
        if self._held is None:
            return
        held, self._held = self._held, None
        info = json.loads(held)
        ended = self._row(info["since"], datetime.now(UTC) - timedelta(seconds=self.lease_s))
        # run out rather than deleted: annotators and reviewers may update settings rows
        # of a team project but not delete them
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE settings SET value_json = ? WHERE key = ? AND value_json = ?",
                (ended, RETRAIN_KEY, held),
            )

    def __enter__(self) -> RetrainLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _row(self, since: str, now: datetime) -> str:
        expires = stamp(now + timedelta(seconds=self.lease_s))
        info = {"user": self.user, "host": self.host, "since": since, "expires": expires}
        return json.dumps(info, sort_keys=True)


def _info(text: Any) -> dict[str, str] | None:
    try:
        info = json.loads(text) if text is not None else None
    except ValueError:
        return None
    keys = ("user", "host", "since", "expires")
    if not isinstance(info, dict) or not all(isinstance(info.get(k), str) for k in keys):
        return None
    return {k: info[k] for k in keys}


def _busy(info: dict[str, str] | None) -> RetrainBusyError:
    if info is None:
        return RetrainBusyError("another retraining started meanwhile; retry when it is done")
    host = info["host"].rsplit(" pid ", 1)[0]
    return RetrainBusyError(
        f"{info['user']} on {host} is retraining this project's model (since "
        f"{info['since'][11:16]} UTC); wait for it to finish, the new model reaches every "
        "workstation by itself"
    )
