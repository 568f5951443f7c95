"""Per-image claims with leases: who has an image open for annotation.

Opening an image for annotation claims it (one row in the ``claims`` table); others see
who holds it; the holder renews the lease while the image stays open and releases it on
close. A claim whose lease ran out is free to take, so a machine that died frees its
images after at most one lease; on the holder's own host a claim whose process is gone is
free at once (the row's ``host`` column is ``"<hostname> pid <pid>"``).

Claims are advisory: they tell people who works where and keep ``Next unfinished`` from
handing out an image someone has open. Saving stays safe without them: a save based on
an old mask revision is refused (optimistic concurrency, ``Project.save_rough`` with
``base_revisions``).

Every statement is plain SQL for both backends (``?`` placeholders, ``ON CONFLICT``
upserts); a take is one compare-and-swap, atomic on SQLite (one writer) and PostgreSQL
(``ON CONFLICT DO UPDATE ... WHERE`` re-checks the newest row version). Times are the
clients' UTC clocks as ISO-8601 text (keep the lab's clocks in sync; leases are minutes).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import ProjectError

#: Seconds a claim lasts without renewal; the window renews every third of it.
DEFAULT_LEASE_S = 120.0


class ClaimedError(ProjectError):
    """The image is open by someone else (their lease has not run out)."""


class ClaimLostError(ProjectError):
    """This process's claim ran out and the image is no longer (or someone else's) ours."""


def stamp(moment: datetime) -> str:
    """``moment`` as stored: ISO-8601 UTC with milliseconds and ``Z`` (sorts as text)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def this_host() -> str:
    """This process as written in a claim row: ``"<hostname> pid <pid>"``."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@dataclass(frozen=True)
class Claim:
    """One image held open by one annotator."""

    image_id: int
    user: str
    #: ``"<hostname> pid <pid>"`` of the holding process.
    host: str
    claimed_utc: str
    expires_utc: str

    @property
    def machine(self) -> str:
        return self.host.rsplit(" pid ", 1)[0]

    @property
    def pid(self) -> int | None:
        head, _, pid = self.host.rpartition(" pid ")
        return int(pid) if head and pid.isdigit() else None

    def live(self, now: str) -> bool:
        """True while the lease runs and (on this host) the holding process exists."""
        if self.expires_utc <= now:
            return False
        if self.machine == socket.gethostname() and self.pid is not None:
            return _pid_alive(self.pid)
        return True

    def label(self) -> str:
        """``"ana on lab-3 until 10:42:05"`` (UTC) for messages and the image list."""
        until = self.expires_utc[11:19]
        return f"{self.user} on {self.machine} until {until} UTC"


_COLUMNS = "image_id, user_name, host, claimed_utc, expires_utc"


def _claim(row: tuple) -> Claim:
    iid, user, host, claimed, expires = row
    return Claim(int(iid), str(user), str(host), str(claimed), str(expires))


class Claims:
    """Claims of one user in this process on one project database.

    Parameters
    ----------
    db : core.project.db.Database
        The project's database (``project.db``).
    user : str
        Who claims (the project's user).
    lease_s : float
        Lease length; :meth:`renew` extends it by this much from now.
    host : str, optional
        The holder string; :func:`this_host` if omitted (tests simulate other processes).
    """

    def __init__(
        self, db: Any, *, user: str, lease_s: float = DEFAULT_LEASE_S, host: str | None = None
    ) -> None:
        if lease_s <= 0:
            raise ProjectError(f"a claim lease must be positive, not {lease_s} s")
        self.db = db
        self.user = user
        self.lease_s = float(lease_s)
        self.host = host or this_host()

    # ------------------------------------------------------------------ reading

    def holder(self, image_id: int) -> Claim | None:
        """The live claim on ``image_id`` (anyone's, ours included), or None."""
        with self.db.read() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM claims WHERE image_id = ?", (image_id,))
        claim = _claim(row) if row else None
        return claim if claim and claim.live(stamp(datetime.now(UTC))) else None

    def all(self) -> dict[int, Claim]:
        """Every live claim by image id (one query)."""
        now = stamp(datetime.now(UTC))
        with self.db.read() as tx:
            rows = tx.query(f"SELECT {_COLUMNS} FROM claims WHERE expires_utc > ?", (now,))
        claims = (_claim(r) for r in rows)
        return {c.image_id: c for c in claims if c.live(now)}

    def mine(self, claim: Claim | None) -> bool:
        return claim is not None and claim.user == self.user and claim.host == self.host

    # ------------------------------------------------------------------ writing

    def claim(self, image_id: int, *, steal: bool = False) -> Claim:
        """Take (or renew) the claim on ``image_id`` for one lease.

        Raises
        ------
        ClaimedError
            Someone else holds a live claim (unless ``steal``: an admin taking over).
        ProjectError
            No such image.
        """
        now_dt = datetime.now(UTC)
        now = stamp(now_dt)
        expires = stamp(now_dt + timedelta(seconds=self.lease_s))
        with self.db.transaction() as tx:
            if tx.one("SELECT 1 FROM images WHERE id = ?", (image_id,)) is None:
                raise ProjectError(f"no image {image_id} in this project")
            row = tx.one(f"SELECT {_COLUMNS} FROM claims WHERE image_id = ?", (image_id,))
            old = _claim(row) if row else None
            if old is not None and self.mine(old):
                tx.execute(
                    "UPDATE claims SET expires_utc = ? WHERE image_id = ? AND host = ?",
                    (expires, image_id, self.host),
                )
                return Claim(image_id, self.user, self.host, old.claimed_utc, expires)
            if old is not None and old.live(now) and not steal:
                raise self._claimed(old)
            args = (image_id, self.user, self.host, now, expires)
            if old is None:
                taken = tx.execute(
                    f"INSERT INTO claims({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(image_id) DO NOTHING",
                    args,
                )
            else:  # compare-and-swap on the row we saw: a racing taker makes this 0 rows
                taken = tx.execute(
                    f"INSERT INTO claims({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(image_id) DO UPDATE SET user_name = excluded.user_name, "
                    "host = excluded.host, claimed_utc = excluded.claimed_utc, "
                    "expires_utc = excluded.expires_utc "
                    "WHERE claims.host = ? AND claims.claimed_utc = ?",
                    (*args, old.host, old.claimed_utc),
                )
            if taken != 1:
                row = tx.one(f"SELECT {_COLUMNS} FROM claims WHERE image_id = ?", (image_id,))
                raise self._claimed(_claim(row) if row else old)
        return Claim(image_id, self.user, self.host, now, expires)

    def renew(self, image_id: int) -> Claim:
        """Extend our claim by one lease; :class:`ClaimLostError` if it is no longer ours."""
        expires = stamp(datetime.now(UTC) + timedelta(seconds=self.lease_s))
        with self.db.transaction() as tx:
            n = tx.execute(
                "UPDATE claims SET expires_utc = ? WHERE image_id = ? AND user_name = ? "
                "AND host = ?",
                (expires, image_id, self.user, self.host),
            )
            row = tx.one(f"SELECT {_COLUMNS} FROM claims WHERE image_id = ?", (image_id,))
        if n != 1 or row is None:
            other = _claim(row) if row else None
            who = f"{other.user} has it now" if other else "nobody holds it now"
            raise ClaimLostError(
                f"your claim on image {image_id} ran out and {who}; reopen the image "
                "before saving (your save is checked against the newest version)"
            )
        return _claim(row)

    def renew_all(self) -> int:
        """Extend every claim of this process by one lease (one statement); returns how many."""
        expires = stamp(datetime.now(UTC) + timedelta(seconds=self.lease_s))
        with self.db.transaction() as tx:
            return int(
                tx.execute(
                    "UPDATE claims SET expires_utc = ? WHERE user_name = ? AND host = ?",
                    (expires, self.user, self.host),
                )
            )

    def release(self, image_id: int) -> bool:
        """Drop our claim on ``image_id``; False if it was not ours (any more)."""
        with self.db.transaction() as tx:
            n = tx.execute(
                "DELETE FROM claims WHERE image_id = ? AND user_name = ? AND host = ?",
                (image_id, self.user, self.host),
            )
        return n == 1

    def release_all(self) -> int:
        """Drop every claim this process holds (closing the window); returns how many."""
        with self.db.transaction() as tx:
            return int(
                tx.execute(
                    "DELETE FROM claims WHERE user_name = ? AND host = ?", (self.user, self.host)
                )
            )

    def expire(self) -> int:
        """Delete claims whose lease ran out (housekeeping; they are ignored anyway)."""
        now = stamp(datetime.now(UTC))
        with self.db.transaction() as tx:
            return int(tx.execute("DELETE FROM claims WHERE expires_utc <= ?", (now,)))

    def _claimed(self, claim: Claim | None) -> ClaimedError:
        if claim is None:
            return ClaimedError("the image was claimed by someone else meanwhile; try again")
        return ClaimedError(
            f"image {claim.image_id} is open by {claim.label()}; open another image, or "
            "ask them to close it (the claim runs out by itself if their machine stopped)"
        )
