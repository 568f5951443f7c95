"""The one owner of image statuses in the window: :class:`ProjectModel` and its views.

:class:`ProjectModel` holds the project's image records with, per image, the status and
the assist state (stored pre-label source, damage labels, a status write in flight) as
read from the catalog. It changes only from what was read back: the catalog listing
(:meth:`ProjectModel.set_records`) and the result of a write that happened on the
session's :class:`~app.gui.writer.SerialWriter` (:meth:`ProjectModel.apply_state`, fed
by :meth:`AnnotationSession.report_status <app.gui.session.AnnotationSession.report_status>`).
Nothing sets a status before the catalog has it (no optimistic badge), so a failed
write leaves the model as it was.

Everything that asks "which status is this image in" reads this model: the image list
(:class:`StatusFilterProxy`), the review queue (:class:`ReviewQueueProxy`), the next
unfinished image (:meth:`ProjectModel.next_unfinished`) and the start image.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPixmap

from core.project.status import Status

STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
#: Labels of what is wrong with an image's files (``["wrinkle mask damaged"]``), or [].
DAMAGE_ROLE = Qt.ItemDataRole.UserRole + 3
#: True while a status write of the image is queued or running on the writer.
PENDING_ROLE = Qt.ItemDataRole.UserRole + 4
#: Source name of the image's stored pre-label, or None.
PRELABEL_ROLE = Qt.ItemDataRole.UserRole + 5

#: What the window calls each status (core's :attr:`Status.label`, keyed by value).
STATUS_LABELS = {s.value: s.label for s in Status}
#: Statuses that still need the annotator's work.
UNFINISHED = frozenset({"new", "prelabeled", "in_progress", "rejected"})


def status_value(status: Any) -> str:
    """``"submitted"`` for ``Status.SUBMITTED`` or ``"submitted"``."""
    return str(getattr(status, "value", status))


@dataclass(frozen=True)
class ImageState:
    """What the catalog says about one image after a write: its status and pre-label."""

    status: str
    prelabel_source: str | None


def read_state(project: Any, image_id: Any, *, status: Any = None) -> ImageState:
    """``image_id``'s :class:`ImageState` after a write (writer thread).

    ``status``: what the write returned (a workflow ``Change.after``, the status
    ``store_prelabel`` reached); read from the catalog when None. Status jobs on the
    writer return this, so the model shows what the catalog holds, not what was asked.
    """
    if status is None:
        status = project.image(image_id).status
    source = project.prelabel_sources(image_id).get(image_id)
    return ImageState(status_value(status), source)


class ProjectModel(QAbstractListModel):
    """The project's images, one row each, with the state read from the catalog."""

    #: (image id, status value) an image's status changed in the model.
    statusChanged = Signal(object, str)
    #: () statuses or pending writes changed, or the records were replaced: the
    #: queues and "next unfinished" may differ.
    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self._row_of: dict[Any, int] = {}
        self._status: dict[Any, str] = {}
        self._prelabel: dict[Any, str] = {}
        self._pending: dict[Any, int] = {}
        self._thumbs: dict[Any, QPixmap] = {}
        self._damage: dict[Any, list[str]] = {}

    # -- from the catalog ----------------------------------------------------------

    def set_records(
        self, records: Sequence[Any], prelabels: dict[Any, str] | None = None
    ) -> list[tuple[Any, str]]:
        """Show ``records`` as listed by the catalog (with their pre-label sources;
        None keeps those known).

        The same images in the same order update in place (no reset: selection and
        scroll stay); otherwise the model resets. Returns ``(id, status)`` of the
        images already shown whose status differs from before.
        """
        records = list(records)
        statuses = {r.id: status_value(r.status) for r in records}
        changed = [
            (i, s) for i, s in statuses.items() if i in self._status and self._status[i] != s
        ]
        if prelabels is not None:
            self._prelabel = dict(prelabels)
        if [r.id for r in records] == [r.id for r in self.records]:
            self.records = records
            self._status = statuses
            if self.records:
                roles = [STATUS_ROLE, PRELABEL_ROLE, Qt.ItemDataRole.DisplayRole]
                self.dataChanged.emit(self.index(0), self.index(len(self.records) - 1), roles)
        else:
            self.beginResetModel()
            self.records = records
            self._row_of = {r.id: i for i, r in enumerate(records)}
            self._status = statuses
            self._thumbs = {k: v for k, v in self._thumbs.items() if k in self._row_of}
            self._pending = {k: v for k, v in self._pending.items() if k in self._row_of}
            self.endResetModel()
        for image_id, value in changed:
            self.statusChanged.emit(image_id, value)
        self.changed.emit()
        return changed

    def apply_state(self, image_id: Any, state: ImageState | Any) -> bool:
        """Show what the catalog holds for ``image_id`` after a write.

        ``state`` is an :class:`ImageState` or a bare status (a job that read back only
        the status). Returns whether the status changed.
        """
        row = self._row_of.get(image_id)
        if row is None:
            return False
        roles = [STATUS_ROLE]
        if isinstance(state, ImageState):
            value = state.status
            if state.prelabel_source is None:
                self._prelabel.pop(image_id, None)
            else:
                self._prelabel[image_id] = state.prelabel_source
            roles.append(PRELABEL_ROLE)
        else:
            value = status_value(state)
        moved = self._status.get(image_id) != value
        self._status[image_id] = value
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, roles)
        if moved:
            self.statusChanged.emit(image_id, value)
            self.changed.emit()
        return moved

    def begin_write(self, image_id: Any) -> None:
        """A status write of ``image_id`` was queued (the queues leave it out meanwhile)."""
        self._pending[image_id] = self._pending.get(image_id, 0) + 1
        if self._pending[image_id] == 1:
            self._pending_changed(image_id)

    def end_write(self, image_id: Any) -> None:
        """A status write of ``image_id`` finished (written or failed)."""
        left = self._pending.get(image_id, 0) - 1
        if left > 0:
            self._pending[image_id] = left
            return
        if self._pending.pop(image_id, None) is not None:
            self._pending_changed(image_id)

    def _pending_changed(self, image_id: Any) -> None:
        row = self._row_of.get(image_id)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [PENDING_ROLE])
        self.changed.emit()

    def set_damage(self, damage: dict[Any, list[str]]) -> None:
        """Badge the images in ``damage`` (id → problem labels); clear the others."""
        changed = set(self._damage) ^ set(damage) | {
            i for i in damage if self._damage.get(i) != damage[i]
        }
        self._damage = {i: list(v) for i, v in damage.items() if v}
        for image_id in changed:
            if image_id in self._row_of:
                idx = self.index(self._row_of[image_id])
                self.dataChanged.emit(idx, idx, [DAMAGE_ROLE])

    def set_thumbnail(self, image_id: Any, image: QImage) -> None:
        if image_id in self._row_of:
            self._thumbs[image_id] = QPixmap.fromImage(image)
            idx = self.index(self._row_of[image_id])
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # -- reading -------------------------------------------------------------------

    def ids(self) -> list[Any]:
        return [r.id for r in self.records]

    def row_of(self, image_id: Any) -> int | None:
        return self._row_of.get(image_id)

    def record(self, image_id: Any) -> Any:
        """The catalog record of ``image_id`` (KeyError if not listed)."""
        return self.records[self._row_of[image_id]]

    def status(self, image_id: Any) -> str:
        """The status value the catalog last reported (KeyError if not listed)."""
        return self._status[image_id]

    def pending(self, image_id: Any) -> bool:
        return image_id in self._pending

    def prelabel_source(self, image_id: Any) -> str | None:
        return self._prelabel.get(image_id)

    def damage(self, image_id: Any) -> list[str]:
        return list(self._damage.get(image_id, []))

    def has_thumbnail(self, image_id: Any) -> bool:
        return image_id in self._thumbs

    def thumbnail(self, image_id: Any) -> QPixmap | None:
        """The image's list thumbnail, None until it is made."""
        return self._thumbs.get(image_id)

    def first_with_status(self, *statuses: str) -> Any:
        """The first image in list order whose status is one of ``statuses`` (else None)."""
        return next((r.id for r in self.records if self._status[r.id] in statuses), None)

    def next_unfinished(self, current: Any, order: Iterable[Any] | None = None) -> Any:
        """The next unfinished image after ``current``, wrapping; or None.

        ``order``: the ids in the order the annotator goes (by uncertainty); then the
        first unfinished one other than ``current``, without wrapping.
        """
        if order is not None:
            todo = (i for i in order if i != current and self._status.get(i) in UNFINISHED)
            return next(todo, None)
        ids = self.ids()
        if not ids:
            return None
        start = self._row_of[current] + 1 if current in self._row_of else 0
        for k in range(len(ids)):
            candidate = ids[(start + k) % len(ids)]
            if candidate != current and self._status[candidate] in UNFINISHED:
                return candidate
        return None

    # -- Qt model ------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.records)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        rec = self.records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return rec.name
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbs.get(rec.id)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{rec.name}\n{rec.cols}×{rec.rows}\n{STATUS_LABELS[self._status[rec.id]]}"
            return "\n".join([tip, *self._damage.get(rec.id, [])])
        if role == DAMAGE_ROLE:
            return self._damage.get(rec.id, [])
        if role == STATUS_ROLE:
            return self._status[rec.id]
        if role == ID_ROLE:
            return rec.id
        if role == PENDING_ROLE:
            return rec.id in self._pending
        if role == PRELABEL_ROLE:
            return self._prelabel.get(rec.id)
        return None


class _FilterProxy(QSortFilterProxyModel):
    """A proxy whose filter settings change through :meth:`_refilter`."""

    def _refilter(self, apply: Any) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.9
            self.beginFilterChange()
            apply()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            apply()
            self.invalidateFilter()

    def ids(self) -> list[Any]:
        """Image ids of the rows shown, in list order."""
        return [self.index(i, 0).data(ID_ROLE) for i in range(self.rowCount())]


class StatusFilterProxy(_FilterProxy):
    """Filters by status (None = all, "unfinished", or a status value) and name."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status_filter: str | None = None
        self.search = ""

    def set_filter(self, status: str | None, search: str) -> None:
        def apply() -> None:
            self.status_filter = status
            self.search = search.strip().lower()

        self._refilter(apply)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        index = self.sourceModel().index(row, 0, parent)
        status = index.data(STATUS_ROLE)
        if self.status_filter == "unfinished" and status not in UNFINISHED:
            return False
        if self.status_filter not in (None, "unfinished") and status != self.status_filter:
            return False
        return self.search in str(index.data(Qt.ItemDataRole.DisplayRole)).lower()


class ReviewQueueProxy(_FilterProxy):
    """The review queue: images in status ``kind`` with no status write in flight."""

    def __init__(self, kind: str = "submitted", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setDynamicSortFilter(True)

    def set_kind(self, kind: str) -> None:
        def apply() -> None:
            self.kind = kind

        self._refilter(apply)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        index = self.sourceModel().index(row, 0, parent)
        return bool(index.data(STATUS_ROLE) == self.kind and not index.data(PENDING_ROLE))
