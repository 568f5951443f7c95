"""The per-image status workflow and its allowed transitions."""

from __future__ import annotations

import enum

from core.errors import ProjectError


class Status(enum.StrEnum):
    """Where an image is in the annotation workflow."""

    NEW = "new"
    PRELABELED = "prelabeled"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """Human-readable name, e.g. ``"in progress"``."""
        return _LABELS[self]

    @classmethod
    def parse(cls, value: str | Status) -> Status:
        """Accept ``"in_progress"``, ``"in-progress"``, ``"in progress"``, ``"pre-labeled"``..."""
        if isinstance(value, Status):
            return value
        key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
        key = {"pre_labeled": "prelabeled", "inprogress": "in_progress"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise ProjectError(f"unknown status {value!r}; expected one of {names}") from None


_LABELS = {
    Status.NEW: "new",
    Status.PRELABELED: "pre-labeled",
    Status.IN_PROGRESS: "in progress",
    Status.SUBMITTED: "submitted",
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
}

#: Allowed moves. Rejected and accepted images go back to "in progress" to be reworked;
#: a submitted image can be withdrawn to "in progress" by its annotator.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.PRELABELED, Status.IN_PROGRESS}),
    Status.PRELABELED: frozenset({Status.IN_PROGRESS, Status.NEW}),
    Status.IN_PROGRESS: frozenset({Status.SUBMITTED}),
    Status.SUBMITTED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.IN_PROGRESS}),
    Status.ACCEPTED: frozenset({Status.IN_PROGRESS}),
    Status.REJECTED: frozenset({Status.IN_PROGRESS}),
}


def check_transition(current: Status, target: Status, *, image: str = "image") -> None:
    """Raise ProjectError unless ``current → target`` is an allowed move."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.label for s in TRANSITIONS[current])) or "nothing"
        raise ProjectError(
            f"{image} is {current.label}; it cannot become {target.label} "
            f"(allowed from {current.label}: {allowed})"
        )
