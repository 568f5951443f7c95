"""Damage badges in the image list and Image → Repair damaged masks.

Whenever the list is filled (a project opened, images imported) and whenever an image
fails to open, :func:`core.project.repair.check_project` runs in a worker; images with
missing or damaged files get a red badge naming the problem. The repair action clears
the damaged masks and pre-labels of the image that failed to open (or the selected
one): each file is kept as a backup beside it, and the image opens again with an empty
mask of that class, ready to be painted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt, QThreadPool
from PySide6.QtWidgets import QMenu

from .image_list import ID_ROLE
from .workers import run_function

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.project.repair import HealthReport

    from .image_list import ImageList
    from .parts import Frame, Notifier
    from .session import AnnotationSession


class DamageMonitor(QObject):
    """Keeps the image list's damage badges current and runs the repair action."""

    def __init__(
        self,
        image_list: ImageList,
        notifier: Notifier,
        open_image: Callable[[int | None], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.image_list = image_list
        self.notifier = notifier
        self.open_image = open_image
        #: The last image that failed to open: what the repair action means.
        self.failed_id: int | None = None
        self.report: HealthReport | None = None
        self.menu: QMenu | None = None  # the last context menu shown
        self._session: AnnotationSession | None = None
        # Its own one-thread pool: a check of a large project must not hold back the
        # image loads on the global pool.
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        image_list.recordsChanged.connect(self.recheck)
        view = image_list.view
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)

    def _context_menu(self, pos: QPoint) -> None:
        """Right-click on an image: repair it when it has damaged or missing mask files."""
        view = self.image_list.view
        image_id = view.indexAt(pos).data(ID_ROLE)
        if image_id is None:
            return
        menu = QMenu(view)
        action = menu.addAction("Repair damaged masks…", lambda: self.repair(image_id))
        action.setEnabled(image_id in self._repairable())
        self.menu = menu  # kept for tests; shown without blocking
        menu.popup(view.viewport().mapToGlobal(pos))

    def _repairable(self) -> set[int]:
        if self.report is None:
            return set()
        return {d.image_id for d in self.report.damage if d.repairable}

    def attach(self, session: AnnotationSession | None) -> None:
        self.failed_id = None
        self._session = session
        if session is not None:
            session.loadFailed.connect(self._load_failed)
            # The writer's signals come from its thread: run the slots on the GUI thread.
            queued = Qt.ConnectionType.QueuedConnection
            session.writer.written.connect(self._written, queued)
            session.writer.failed.connect(self._repair_failed, queued)
            self.recheck()

    def _load_failed(self, image_id: int) -> None:
        self.failed_id = image_id
        self.recheck()

    def recheck(self) -> None:
        """Check the project's files in a worker; badges follow when it finishes."""
        session = self._session
        if session is None:
            return
        from core.project.repair import check_project

        project = session.project
        run_function(
            lambda: check_project(project, leftovers=False),
            on_done=lambda r: self._show(session, r),
            pool=self.pool,
        )

    def _show(self, session: AnnotationSession, report: HealthReport) -> None:
        if session is not self._session:
            return  # another project was opened meanwhile
        self.report = report
        self.image_list.set_damage(
            {i: [d.label for d in ds] for i, ds in report.by_image().items()}
        )
        repairable = {d.image_id for d in report.damage if d.repairable}
        if self.failed_id in repairable:
            self.notifier.show(
                "This image has a damaged mask file: Image → Repair damaged masks clears it "
                "(a backup copy is kept).",
                15000,
            )

    def target(self) -> int | None:
        """The image the menu action repairs: the one that failed to open, else the one
        selected in the list if it is damaged, else the current one."""
        if self.failed_id is not None:
            return self.failed_id
        selected = self.image_list.view.currentIndex().data(ID_ROLE)
        if selected is not None and selected in self._repairable():
            return selected
        s = self._session
        return None if s is None or s.current is None else s.current.image_id

    def repair(self, image_id: int | None = None) -> None:
        """Clear an image's damaged masks and pre-labels (default :meth:`target`)."""
        session = self._session
        image_id = self.target() if image_id is None else image_id
        if session is None or image_id is None:
            return
        if session.read_only:
            self.notifier.report(
                "The project is open read-only; reopen it for writing to repair it."
            )
            return
        damage = [] if self.report is None else self.report.by_image().get(image_id, [])
        fixable = [d for d in damage if d.repairable]
        if not fixable:
            self.notifier.show("Nothing to repair in this image's mask files.", 5000)
            return
        names = ", ".join(d.label for d in fixable)
        if not self.notifier.ask(
            f"Clear the {names} of image {image_id}? Each file is kept as a backup copy "
            "beside it, and the image opens with an empty mask of that class."
        ):
            return
        from core.project.repair import clear_damaged

        project = session.project
        session.writer.submit(("repair", image_id), lambda: clear_damaged(project, image_id))

    def _written(self, key: Any, result: Any) -> None:
        if not (isinstance(key, tuple) and key[:1] == ("repair",)):
            return
        image_id = key[1]
        self.notifier.show("; ".join(result) or "nothing to repair", 10000)
        self.failed_id = None
        self.recheck()
        self.open_image(image_id)

    def _repair_failed(self, key: Any, message: str) -> None:
        if isinstance(key, tuple) and key[:1] == ("repair",):
            self.notifier.report(message)


def install(frame: Frame, open_image: Callable[[int | None], None]) -> DamageMonitor:
    """Build the monitor and Image → Repair damaged masks."""
    damage = DamageMonitor(frame.image_list, frame.notifier, open_image, frame.window)
    frame.session_changed.connect(damage.attach)
    action = frame.registry.add("repair_image", "&Repair damaged masks…", lambda: damage.repair())
    frame.menus.image.addSeparator()
    frame.menus.image.addAction(action)
    return damage
