"""Review decisions as plain functions: accept / reject, pre-labels, and undo.

The window's review mode and the command line call these; each one is a status move
recorded in the image's history, so every decision (and every undo) can be traced.

- :func:`open_prelabel_for_correction` — the safe way to accept a model pre-label: the
  image goes pre-labeled → in progress, the annotator corrects the rough masks made from
  the pre-label and submits them, and a reviewer accepts them like any other image.
- :func:`accept_prelabel_unedited` — puts a pre-label into the training data as it is;
  it needs ``confirmed=True`` because nobody has corrected it.
- :func:`undo_review` — reverts the last review decision of an image (accepted or
  rejected → submitted, or an opened / accepted pre-label → pre-labeled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ProjectError
from core.project.records import HistoryEntry
from core.project.status import Status

if TYPE_CHECKING:
    from core.project.catalog import Project

#: History comment prefix of a pre-label opened for correction.
CORRECTION_PREFIX = "model pre-label opened for correction"
#: History comment prefix of an undone decision.
UNDO_PREFIX = "undo review"
#: What :func:`accept_prelabel_unedited` says when it is not confirmed.
UNEDITED_WARNING = (
    "the pre-label goes into the training data unedited (nobody corrected it); "
    "confirm to accept it as it is"
)


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


def open_prelabel_for_correction(project: Project, image_id: int) -> str:
    """Move a pre-labeled image to "in progress" so its pre-label is corrected first.

    The caller turns the pre-label into rough masks (the window does it through the
    document, one undo step) and saves them; the stored pre-label is kept, so
    :func:`undo_review` can bring the image back to the pre-label queue.

    Parameters
    ----------
    project : Project
        Open for writing.
    image_id : int

    Returns
    -------
    str
        The pre-label's source name.

    Raises
    ------
    ProjectError
        If the image is not pre-labeled or has no stored pre-label.
    """
    source = _prelabel_source(project, image_id)
    with project._tx() as db:
        project._move(
            db, image_id, Status.PRELABELED, Status.IN_PROGRESS, correction_comment(source)
        )
    return source


def accept_prelabel_unedited(project: Project, image_id: int, *, confirmed: bool) -> str:
    """Accept a pre-label as training data without correction (needs ``confirmed``).

    The image moves (pre-labeled →) in progress → submitted → accepted, each step
    recorded with :func:`core.prelabel.accept_comment`. Its rough masks must already
    hold the pre-label (the caller saves them first, which moves a pre-labeled image
    to in progress): an accepted image with empty masks would teach the model that the
    face has no wrinkles and no pores.

    Parameters
    ----------
    project : Project
        Open for writing.
    image_id : int
    confirmed : bool
        The reviewer confirmed that the pre-label goes into training unedited.

    Returns
    -------
    str
        The pre-label's source name.

    Raises
    ------
    ProjectError
        If not confirmed, if the image is not pre-labeled, has no stored pre-label, or
        its rough masks are empty.
    """
    from core.prelabel import accept_comment

    source = _prelabel_source(project, image_id, (Status.PRELABELED, Status.IN_PROGRESS))
    if not confirmed:
        raise ProjectError(UNEDITED_WARNING)
    if not any(mask.any() for mask in project.load_rough(image_id).values()):
        name = project.image(image_id).name
        raise ProjectError(f"{name} has empty rough masks; save the pre-label as rough masks first")
    comment = accept_comment(source)
    path = (Status.PRELABELED, Status.IN_PROGRESS, Status.SUBMITTED, Status.ACCEPTED)
    steps = path[path.index(project.image(image_id).status) :]
    with project._tx() as db:
        for current, target in zip(steps, steps[1:], strict=False):
            project._move(db, image_id, current, target, comment)
    return source


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


def undo_review(project: Project, image_id: int) -> Status:
    """Revert the image's last review decision; the undo is recorded in its history.

    - accepted or rejected (from submitted) → submitted: back in the review queue; an
      accepted pre-label (pre-labeled → … → accepted) goes back to pre-labeled when its
      stored pre-label still exists.
    - a pre-label opened for correction (in progress) → pre-labeled.

    Parameters
    ----------
    project : Project
        Open for writing.
    image_id : int

    Returns
    -------
    Status
        The image's status after the undo.

    Raises
    ------
    ProjectError
        If the image's last status change is not a review decision (nothing to undo).
    """
    from core.prelabel import accept_comment

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
    with project._tx() as db:
        project._move(db, image_id, record.status, target, comment)
    return target
