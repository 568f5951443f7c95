"""Status workflow operations, Qt-free: the window, the review mode and the CLI call these.

Each operation checks the move, writes the status and its history rows in ONE
transaction and returns a :class:`Change` (status before and after, the history rows
written, the pre-label source where one is involved), so the window's status model
applies exactly what happened.

- :func:`change_status` — any allowed move, optionally through intermediate statuses
  (what ``AnnotationSession.set_status`` queues); :func:`submit`, :func:`accept`,
  :func:`reject`, :func:`reopen` are the named moves.
- :func:`open_prelabel` — the safe way to accept a model pre-label: pre-labeled → in
  progress, the annotator corrects the rough masks made from it and submits them.
- :func:`accept_prelabel` — puts a pre-label into the training data as it is (needs
  ``confirmed=True`` because nobody corrected it).
- :func:`reject_prelabel` — pre-labeled → new, the pre-label removed and its source
  remembered (``prelabel_state.rejected_source``) so the same source does not make it again.
- :func:`undo_review` — reverts the last review decision of an image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import ProjectError
from core.project.records import HistoryEntry
from core.project.status import Status, check_transition

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.project.catalog import Catalog as Project
    from core.project.db import Tx

#: History comment prefix of a pre-label opened for correction.
CORRECTION_PREFIX = "model pre-label opened for correction"
#: History comment prefix of an undone decision.
UNDO_PREFIX = "undo review"
#: History comment of the step to "in progress" before submitting a finished image.
REOPENED_TO_SUBMIT = "reopened to submit"
#: What :func:`accept_prelabel` says when it is not confirmed.
UNEDITED_WARNING = (
    "the pre-label goes into the training data unedited (nobody corrected it); "
    "confirm to accept it as it is"
)


def accept_comment(source: str) -> str:
    """History comment of an accepted pre-label."""
    return f"accepted model pre-label (source: {source})"


def reject_comment(source: str, note: str = "") -> str:
    """History comment of a rejected pre-label (with the reviewer's note, if any)."""
    text = f"rejected model pre-label (source: {source})"
    return f"{text}: {note}" if note else text


@dataclass(frozen=True)
class Change:
    """What one workflow operation changed."""

    image_id: int
    before: Status
    after: Status
    #: The history rows written, oldest first (empty when nothing moved).
    history: tuple[HistoryEntry, ...] = ()
    #: The pre-label's source, for pre-label operations.
    source: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.history)


def _walk(
    project: Project, tx: Tx, image_id: int, steps: Sequence[tuple[Status, str]]
) -> tuple[Status, list[HistoryEntry]]:
    """Inside ``tx``: move through ``(status, comment)`` steps, each checked."""
    status = project.image(image_id, tx=tx).status
    before, written = status, []
    for target, comment in steps:
        check_transition(status, target, image=f"image {image_id}")
        written.append(project.move(tx, image_id, status, target, comment))
        status = target
    return before, written


def change_status(
    project: Project,
    image_id: int,
    status: Status | str,
    *,
    comment: str = "",
    through: Sequence[Status | str] = (),
) -> Change:
    """Move an image to ``status`` (no change if it is there already).

    ``through``: statuses to pass first, each recorded with ``comment`` (those the
    image already reached are skipped), e.g. in progress → submitted → accepted.
    Submitting an image that is not in progress first reopens it
    (:data:`REOPENED_TO_SUBMIT`). ProjectError if a step is not allowed; then nothing
    changes.
    """
    target = Status.parse(status)
    steps = [Status.parse(s) for s in through]
    with project.db.transaction() as tx:
        current = project.image(image_id, tx=tx).status
        if current == target:
            return Change(image_id, current, current)
        plan: list[tuple[Status, str]] = []
        if steps:
            rest = steps[steps.index(current) + 1 :] if current in steps else steps
            plan += [(s, comment) for s in rest]
        elif target == Status.SUBMITTED and current != Status.IN_PROGRESS:
            plan.append((Status.IN_PROGRESS, REOPENED_TO_SUBMIT))
        plan.append((target, comment))
        before, written = _walk(project, tx, image_id, plan)
    return Change(image_id, before, target, tuple(written))


def submit(project: Project, image_id: int, *, comment: str = "") -> Change:
    """Mark an image submitted (reopening a finished one first)."""
    return change_status(project, image_id, Status.SUBMITTED, comment=comment)


def accept(project: Project, image_id: int, *, comment: str = "") -> Change:
    """Accept a submitted image (submitted → accepted)."""
    return _named(project, image_id, Status.ACCEPTED, comment)


def reject(project: Project, image_id: int, *, comment: str = "") -> Change:
    """Reject a submitted image (submitted → rejected) with the reviewer's comment."""
    return _named(project, image_id, Status.REJECTED, comment)


def reopen(project: Project, image_id: int, *, comment: str = "") -> Change:
    """Send a submitted, accepted or rejected image back to "in progress"."""
    return _named(project, image_id, Status.IN_PROGRESS, comment)


def _named(project: Project, image_id: int, target: Status, comment: str) -> Change:
    with project.db.transaction() as tx:
        before, written = _walk(project, tx, image_id, [(target, comment)])
    return Change(image_id, before, target, tuple(written))


# ---------------------------------------------------------------------------- pre-labels


def correction_comment(source: str) -> str:
    """History comment of a pre-label opened for correction."""
    return f"{CORRECTION_PREFIX} (source: {source})"


def _prelabel_source(
    project: Project, image_id: int, allowed: tuple[Status, ...] = (Status.PRELABELED,)
) -> str:
    record = project.image(image_id)
    if record.status not in allowed:
        raise ProjectError(
            f"{record.name} is {record.status.label}; only pre-labeled images have a "
            "pre-label to accept"
        )
    source = project.prelabel_sources(image_id).get(image_id)
    if source is None:
        raise ProjectError(f"{record.name} has no stored pre-label; run Pre-label (Ctrl+P)")
    return source


def open_prelabel(project: Project, image_id: int) -> Change:
    """Move a pre-labeled image to "in progress" so its pre-label is corrected first.

    The caller turns the pre-label into rough masks (the window does it through the
    document, one undo step) and saves them; the stored pre-label is kept, so
    :func:`undo_review` can bring the image back to the pre-label queue.
    ``Change.source`` is the pre-label's source. ProjectError if the image is not
    pre-labeled or has no stored pre-label.
    """
    source = _prelabel_source(project, image_id)
    with project.db.transaction() as tx:
        step = [(Status.IN_PROGRESS, correction_comment(source))]
        before, written = _walk(project, tx, image_id, step)
    return Change(image_id, before, Status.IN_PROGRESS, tuple(written), source)


def accept_prelabel(project: Project, image_id: int, *, confirmed: bool) -> Change:
    """Accept a pre-label as training data without correction (needs ``confirmed``).

    The image moves (pre-labeled →) in progress → submitted → accepted, each step
    recorded with :func:`accept_comment`. Its rough masks must already
    hold the pre-label (the caller saves them first, which moves a pre-labeled image
    to in progress): an accepted image with empty masks would teach the model that the
    face has no wrinkles and no pores. ProjectError if not confirmed, if the image is
    not pre-labeled, has no stored pre-label, or its rough masks are empty.
    """
    source = _prelabel_source(project, image_id, (Status.PRELABELED, Status.IN_PROGRESS))
    if not confirmed:
        raise ProjectError(UNEDITED_WARNING)
    if not any(mask.any() for mask in project.load_rough(image_id).values()):
        name = project.image(image_id).name
        raise ProjectError(f"{name} has empty rough masks; save the pre-label as rough masks first")
    comment = accept_comment(source)
    path = (Status.PRELABELED, Status.IN_PROGRESS, Status.SUBMITTED, Status.ACCEPTED)
    with project.db.transaction() as tx:
        current = project.image(image_id, tx=tx).status
        steps = [(s, comment) for s in path[path.index(current) + 1 :]]
        before, written = _walk(project, tx, image_id, steps)
    return Change(image_id, before, Status.ACCEPTED, tuple(written), source)


def reject_prelabel(project: Project, image_id: int, *, note: str = "") -> Change:
    """Discard a pre-labeled image's pre-label and send the image back to annotation.

    One transaction: the image moves pre-labeled → new (history comment
    :func:`reject_comment`), its pre-label rows go, and the source is
    remembered so that :func:`core.assist.prelabel.plan_prelabels` does not make the same
    pre-label again (a different, newer source may). The files are removed after the
    commit. ProjectError if the image is not pre-labeled or has no stored pre-label.
    """
    record = project.image(image_id)
    if record.status != Status.PRELABELED:
        raise ProjectError(
            f"{record.name} is {record.status.label}; only pre-labeled images can have "
            "their pre-label rejected"
        )
    source = project.prelabel_sources(image_id).get(image_id)
    if source is None:
        raise ProjectError(f"{record.name} has no stored pre-label to reject")
    with project.db.transaction() as tx:
        step = [(Status.NEW, reject_comment(source, note))]
        before, written = _walk(project, tx, image_id, step)
        project.set_prelabel_state(image_id, tx=tx, rejected_source=source)
        project.clear_prelabel(image_id, tx=tx)
    project.remove_prelabel_files(image_id)
    return Change(image_id, before, Status.NEW, tuple(written), source)


# ---------------------------------------------------------------------------- undo


def last_decision(project: Project, image_id: int) -> HistoryEntry | None:
    """The image's last status change if it is a review decision :func:`undo_review` reverts."""
    history = project.history(image_id)
    if not history:
        return None
    last = history[-1]
    if last.comment.startswith(UNDO_PREFIX):
        return None  # an undo is not undone again (redo = decide again)
    if last.from_status == Status.SUBMITTED and last.to_status in (
        Status.ACCEPTED,
        Status.REJECTED,
    ):
        return last
    if last.to_status == Status.IN_PROGRESS and last.comment.startswith(CORRECTION_PREFIX):
        return last
    return None


def undo_review(project: Project, image_id: int) -> Change:
    """Revert the image's last review decision; the undo is recorded in its history.

    - accepted or rejected (from submitted) → submitted: back in the review queue; an
      accepted pre-label (pre-labeled → … → accepted) goes back to pre-labeled when its
      stored pre-label still exists.
    - a pre-label opened for correction (in progress) → pre-labeled.

    ProjectError if the image's last status change is not a review decision.
    """
    record = project.image(image_id)
    last = last_decision(project, image_id)
    if last is None or last.to_status != record.status:
        raise ProjectError(
            f"{record.name}: its last status change is not a review decision to undo"
        )
    target = Status.SUBMITTED
    has_prelabel = image_id in project.prelabel_sources(image_id)
    if last.to_status == Status.IN_PROGRESS:
        target = Status.PRELABELED
    elif last.comment.startswith(accept_comment("").split(" (")[0]) and has_prelabel:
        target = Status.PRELABELED
    if target == Status.PRELABELED and not has_prelabel:
        raise ProjectError(f"{record.name}: its pre-label is no longer stored; nothing to undo")
    comment = f"{UNDO_PREFIX}: was {last.to_status.label}"
    with project.db.transaction() as tx:
        entry = project.move(tx, image_id, record.status, target, comment)
    return Change(image_id, record.status, target, (entry,))
