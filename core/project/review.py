"""Review decisions, as :mod:`core.project.workflow` has them (older names kept).

Each function here returns what it returned before the workflow module existed (the
pre-label source, or the status after an undo); new code calls
:mod:`core.project.workflow`, whose operations return a :class:`~core.project.workflow.Change`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.project.workflow import (
    CORRECTION_PREFIX,
    UNDO_PREFIX,
    UNEDITED_WARNING,
    accept_prelabel,
    correction_comment,
    last_decision,
    open_prelabel,
)
from core.project.workflow import (
    undo_review as _undo_review,
)

if TYPE_CHECKING:
    from core.project.catalog import Project
    from core.project.status import Status

__all__ = [
    "CORRECTION_PREFIX",
    "UNDO_PREFIX",
    "UNEDITED_WARNING",
    "accept_prelabel_unedited",
    "correction_comment",
    "last_decision",
    "open_prelabel_for_correction",
    "undo_review",
]


def open_prelabel_for_correction(project: Project, image_id: int) -> str:
    """:func:`core.project.workflow.open_prelabel`; returns the pre-label's source."""
    return str(open_prelabel(project, image_id).source)


def accept_prelabel_unedited(project: Project, image_id: int, *, confirmed: bool) -> str:
    """:func:`core.project.workflow.accept_prelabel`; returns the pre-label's source."""
    return str(accept_prelabel(project, image_id, confirmed=confirmed).source)


def undo_review(project: Project, image_id: int) -> Status:
    """:func:`core.project.workflow.undo_review`; returns the status after the undo."""
    return _undo_review(project, image_id).after
