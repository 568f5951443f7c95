"""Team work in the window: claims, live statuses, the Team dock, the retraining lock.

Built by :func:`install` from the window's :class:`~app.gui.parts.Frame` and the parts it
works with (retraining, pre-labels, model history, an ``open_image`` callback), never from
the window itself; MainWindow keeps the monitor as ``team``. It is active only for a team
project (a PostgreSQL catalog, ``project.db.dialect == "postgresql"``); a one-person
SQLite project is untouched. What it does there (docs/team-workflow.md):

- opening an image claims it (:class:`core.project.claims.Claims`); an image someone
  else holds opens with painting off and a message naming them; the lease is renewed
  every third of its length and released when the image or the window closes;
- the image list shows who holds each image (a badge beside the status, and the tooltip);
- every :data:`POLL_MS` a worker reads :func:`core.project.team_sync.snapshot`
  (statuses, claims, current model) and applies what changed: statuses others set go into
  the session's :class:`~app.gui.project_model.ProjectModel` (they are write results of
  other machines; the image list and review queue follow the model), claims, and a new
  current model (pre-labels and the Models dock pick it up);
- a save refused as stale (someone saved after this image was opened) is reported, and
  the image is reopened with the newer masks;
- each save adds the time since the image was opened or last saved to the user's time
  (:func:`core.project.team.add_work_time`);
- the Team dock lists the per-person summary and opens the next image of one's queue;
- Model → Retrain now takes the project's retraining lock first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QRect, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QHelpEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from .image_list import ID_ROLE, ImageItemDelegate
from .workers import run_function

if TYPE_CHECKING:
    from core.project.claims import Claim, Claims
    from core.project.team_sync import RetrainLock, TeamSnapshot

    from .assist.model_history import ModelHistoryView
    from .assist.prelabel_worker import PrelabelController
    from .assist.retraining import RetrainController
    from .image_list import ImageList
    from .parts import Frame, Notifier
    from .session import AnnotationSession
    from .status_bar import StatusBar

#: How often the window reads what others changed (ms); bench_team_refresh.py measures it.
POLL_MS = 3000
#: The Team dock's summary is recomputed every this many polls (and on demand).
STATS_EVERY = 5
CLAIM_COLOR = "#3465a4"
OWN_CLAIM_COLOR = "#4e9a06"


def is_team(project: Any) -> bool:
    """True for a team project (a PostgreSQL catalog)."""
    return bool(getattr(project, "is_team", False))


def team_start(project: Any) -> int | None:
    """The image a team member starts on: the first of their own queue nobody else holds;
    None for a folder project, a read-only open, or nothing assigned to them."""
    if not is_team(project) or project.read_only:
        return None
    from core.project.team import first_in_queue

    return first_in_queue(project.db, project.user)


class ClaimDelegate(ImageItemDelegate):
    """The image list's delegate plus a badge naming who holds the image."""

    def __init__(self, monitor: TeamMonitor) -> None:
        super().__init__(monitor.image_list.view)
        self.monitor = monitor

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        super().paint(painter, option, index)
        claim = self.monitor.claims.get(index.data(ID_ROLE))
        if claim is None:
            return
        mine = self.monitor.is_mine(claim)
        text = "you" if mine else claim.user
        painter.save()
        fm = painter.fontMetrics()
        r = option.rect
        text = fm.elidedText(text, Qt.TextElideMode.ElideRight, 90)
        badge = QRect(r.right() - fm.horizontalAdvance(text) - 18, r.top() + 6, 0, 18)
        badge.setWidth(fm.horizontalAdvance(text) + 14)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(OWN_CLAIM_COLOR if mine else CLAIM_COLOR))
        painter.drawRoundedRect(badge, 9, 9)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def helpEvent(self, event: QHelpEvent, view: Any, option: Any, index: Any) -> bool:  # noqa: N802
        claim = self.monitor.claims.get(index.data(ID_ROLE)) if index.isValid() else None
        if event.type() == QEvent.Type.ToolTip and claim is not None:
            tip = index.data(Qt.ItemDataRole.ToolTipRole) or ""
            QToolTip.showText(event.globalPos(), f"{tip}\nopen by {claim.label()}", view)
            return True
        return super().helpEvent(event, view, option, index)


class TeamPanel(QWidget):
    """The Team dock: per-person summary, one's own queue, the refresh cost."""

    def __init__(self, monitor: TeamMonitor) -> None:
        super().__init__()
        from core.project.team import STATS_HEADER

        self.monitor = monitor
        self.info = QLabel("Open a team project (File → Open team project…).")
        self.info.setWordWrap(True)
        self.table = QTableWidget(0, len(STATS_HEADER))
        self.table.setHorizontalHeaderLabels(list(STATS_HEADER))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.refresh_button = QPushButton("Refresh")
        self.next_button = QPushButton("Next in my queue")
        self.refresh_button.setToolTip("Recompute the per-person summary now")
        self.next_button.setToolTip(
            "Open the next unfinished image assigned to you that nobody else has open"
        )
        self.table.setToolTip(
            "Per person: images assigned, open, done, accepted, rejected, reviewed, time"
        )
        self.cost = QLabel("")
        buttons = QHBoxLayout()
        buttons.addWidget(self.next_button)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.info)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.cost)
        self.refresh_button.clicked.connect(lambda: monitor.refresh_stats())
        self.next_button.clicked.connect(lambda: monitor.next_in_queue())
        self.set_active(False)

    def set_active(self, on: bool) -> None:
        self.refresh_button.setEnabled(on)
        self.next_button.setEnabled(on)
        if not on:
            self.table.setRowCount(0)
            self.info.setText("Team features work on a team project (File → Open team project…).")

    def show_stats(self, rows: list[tuple[str, ...]], queue_len: int) -> None:
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        self.info.setText(f"{queue_len} image(s) left in your queue.")


class TeamMonitor(QObject):
    """Claims, refresh polling and the retraining lock of one window (see module doc)."""

    #: Emitted on the GUI thread after each applied poll with what changed.
    refreshed = Signal(object)
    #: () the open image became someone else's or came free: painting may turn on or off.
    blockingChanged = Signal()
    #: (model id or None) another workstation chose a new current model.
    modelChanged = Signal(object)

    def __init__(
        self,
        image_list: ImageList,
        status: StatusBar,
        notifier: Notifier,
        open_image: Callable[[int | None], None],
        parent: QObject | None = None,
        *,
        poll_ms: int = POLL_MS,
    ) -> None:
        super().__init__(parent)
        self.image_list = image_list
        self.status = status
        self.notifier = notifier
        self.open_image = open_image
        self.session: AnnotationSession | None = None
        self.claimer: Claims | None = None
        self.claims: dict[int, Claim] = {}
        self.snapshot: TeamSnapshot | None = None
        #: The image open here that someone else holds (painting off), or None.
        self.blocked_by: Claim | None = None
        self.held: int | None = None  # the image this window holds
        self.opened_at: float = 0.0  # monotonic time of opening / the last save
        self.poll_costs: list[float] = []  # seconds per poll (read + apply), newest last
        self.retrain_lock: RetrainLock | None = None
        self._polls = 0
        self._polling = False
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # claims and polls in order, off the GUI thread
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(poll_ms)
        self.poll_timer.timeout.connect(self.poll)
        self.renew_timer = QTimer(self)
        self.renew_timer.timeout.connect(self._renew)
        self.delegate = ClaimDelegate(self)
        self._plain_delegate = image_list.view.itemDelegate()
        self.panel = TeamPanel(self)

    # ------------------------------------------------------------------ session

    @property
    def active(self) -> bool:
        return self.claimer is not None

    def is_mine(self, claim: Claim) -> bool:
        return self.claimer is not None and self.claimer.mine(claim)

    def attach(self, session: AnnotationSession | None) -> None:
        self._detach()
        if session is None or not is_team(session.project) or session.read_only:
            return
        from core.project.claims import Claims

        self.session = session
        self.claimer = Claims(session.project.db, user=session.project.user)
        session.documentOpened.connect(self._on_opened)
        queued = Qt.ConnectionType.QueuedConnection
        session.writer.written.connect(self._on_written, queued)
        session.writer.failed.connect(self._on_failed, queued)
        self.image_list.view.setItemDelegate(self.delegate)
        self.renew_timer.setInterval(max(1000, int(self.claimer.lease_s * 1000 / 3)))
        self.renew_timer.start()
        self.poll_timer.start()
        self.panel.set_active(True)
        if session.current is not None:  # opened before the monitor attached
            self._claim(session.current.image_id)
        self.poll()
        self.refresh_stats()

    def _detach(self) -> None:
        self.poll_timer.stop()
        self.renew_timer.stop()
        session, claimer = self.session, self.claimer
        self.session = self.claimer = None
        self.claims, self.snapshot, self.blocked_by, self.held = {}, None, None, None
        self.panel.set_active(False)
        if session is None:
            return
        session.documentOpened.disconnect(self._on_opened)
        session.writer.written.disconnect(self._on_written)
        session.writer.failed.disconnect(self._on_failed)
        self.image_list.view.setItemDelegate(self._plain_delegate)
        self.pool.waitForDone()
        self._end_retrain()
        if claimer is not None and not session.project.closed:
            from core.errors import SkinTraceError

            try:  # the window closes: its claims go at once (else they run out)
                claimer.release_all()
            except SkinTraceError:
                pass

    # ------------------------------------------------------------------ claims

    def _on_opened(self, loaded: Any) -> None:
        self._claim(loaded.image_id)

    def _claim(self, image_id: int) -> None:
        claimer, previous = self.claimer, self.held
        if claimer is None or self.session is None:
            return
        project = self.session.project
        self.blocked_by, self.held = None, image_id
        self.opened_at = time.monotonic()

        def job() -> Any:
            from core.project.claims import ClaimedError

            if previous is not None and previous != image_id:
                claimer.release(previous)
            try:
                claim = claimer.claim(image_id)
            except ClaimedError as exc:
                return (exc, claimer.holder(image_id))
            return claim, project.mask_revisions(image_id)

        run_function(job, on_done=lambda r: self._claimed(image_id, r), pool=self.pool)

    def _claimed(self, image_id: int, result: Any) -> None:
        if self.claimer is None or self.held != image_id:
            return  # another image was opened meanwhile
        first, second = result
        if isinstance(first, Exception):
            self.blocked_by, self.held = second, None
            self.blockingChanged.emit()
            self.say(f"{first} Painting is off for this image.")
        else:
            self.claims[image_id] = first
            self.blockingChanged.emit()
            session = self.session
            current = session.current if session is not None else None
            if session is not None and current is not None and current.image_id == image_id:
                if current.revisions is not None and current.revisions != second:
                    # saved elsewhere since this copy was read (a prefetch, the cache)
                    if not current.document.modified:
                        session.open_image(image_id, reload=True)
        self.image_list.view.viewport().update()

    def _renew(self) -> None:
        claimer = self.claimer
        if claimer is not None:
            run_function(claimer.renew_all, pool=self.pool, on_error=self.say)

    @property
    def blocks_editing(self) -> bool:
        """True while the open image is someone else's (see ``MainWindow.update_editable``)."""
        return self.blocked_by is not None

    # ------------------------------------------------------------------ saves

    def _on_written(self, key: Any, _result: Any) -> None:
        claimer = self.claimer
        if claimer is None or not (isinstance(key, tuple) and key[:1] == ("rough",)):
            return
        image_id, now = key[1], time.monotonic()
        seconds, self.opened_at = now - self.opened_at, now
        from core.project.team import add_work_time

        def job() -> Any:
            return add_work_time(claimer.db, claimer.user, image_id, seconds)

        run_function(job, pool=self.pool, on_error=self.say)

    def _on_failed(self, key: Any, message: str) -> None:
        """A stale save was refused: the newer masks are shown (the error was reported)."""
        session = self.session
        if session is None or not (isinstance(key, tuple) and key[:1] == ("rough",)):
            return
        if "after you opened it" in message:
            session.forget_changes(key[1])
            if session.current is not None and session.current.image_id == key[1]:
                session.open_image(key[1], reload=True)

    # ------------------------------------------------------------------ polling

    def poll(self) -> None:
        """Read what others changed (in the worker) and apply it here."""
        session = self.session
        if session is None or self._polling:
            return
        self._polling = True
        db, start = session.project.db, time.perf_counter()
        from core.project.team_sync import snapshot

        def done(snap: TeamSnapshot) -> None:
            self._polling = False
            self.apply(snap)
            self.poll_costs = [*self.poll_costs[-99:], time.perf_counter() - start]

        def failed(message: str) -> None:
            self._polling = False
            self.notifier.show(f"Team refresh failed: {message}", 5000)

        run_function(lambda: snapshot(db), on_done=done, on_error=failed, pool=self.pool)

    def apply(self, snap: TeamSnapshot) -> None:
        """Show ``snap``: changed statuses, claims, a new current model.

        Statuses others set are write results read back from the catalog: they go into
        the session's model (the open image's through ``report_status``, so its listeners
        follow, as after one's own write). A snapshot read just before a write of ours and
        shown after its result is corrected by the next poll (the status differs again).
        """
        session = self.session
        if session is None:
            return
        changes = snap.changes(self.snapshot)
        first = self.snapshot is None
        self.snapshot = snap
        current, model = session.current, session.model
        for image_id in changes.statuses:
            status = snap.statuses.get(image_id)
            if status is None:
                continue
            if current is not None and current.image_id == image_id:
                session.report_status(image_id, status.value)
            else:
                model.apply_state(image_id, status.value)
        self.claims = dict(snap.claims)
        if changes.claims:
            self.image_list.view.viewport().update()
            self._recheck_claim()
        if changes.model and not first:
            self._model_changed(snap.current_model)
        self._polls += 1
        if self._polls % STATS_EVERY == 0:
            self.refresh_stats()
        self.refreshed.emit(changes)

    def _recheck_claim(self) -> None:
        """The open image's holder changed: take it when it came free, stop painting when
        someone else took it (our lease ran out)."""
        current = self.session.current if self.session is not None else None
        if current is None or self.claimer is None:
            return
        holder = self.claims.get(current.image_id)
        if self.blocked_by is not None and holder is None:
            self._claim(current.image_id)  # the other annotator closed it
        elif self.held == current.image_id and holder is not None and not self.is_mine(holder):
            self.blocked_by, self.held = holder, None
            self.blockingChanged.emit()
            self.say(f"Your claim ran out: {holder.label()} has this image now. Painting is off.")

    def _model_changed(self, model_id: int | None) -> None:
        self.modelChanged.emit(model_id)  # the Models dock and pre-labels (see install)
        self.say(f"A new current model (#{model_id}) was chosen on another workstation.")

    # ------------------------------------------------------------------ Team dock

    def refresh_stats(self) -> None:
        claimer = self.claimer
        if claimer is None:
            return
        from core.project.team import queue, stats, stats_rows

        def job() -> Any:
            return stats_rows(stats(claimer.db)), len(queue(claimer.db, claimer.user))

        def done(result: Any) -> None:
            if self.claimer is claimer:
                self.panel.show_stats(*result)
                self._show_cost()

        run_function(job, on_done=done, on_error=self.say, pool=self.pool)

    def _show_cost(self) -> None:
        if self.poll_costs:
            ms = sorted(self.poll_costs)[len(self.poll_costs) // 2] * 1000
            every = self.poll_timer.interval() / 1000
            self.panel.cost.setText(f"Statuses refresh every {every:g} s (median {ms:.1f} ms).")

    def next_in_queue(self) -> Any:
        """Open the next image of one's own queue, skipping images others hold.

        Without any assignment to this user, the next unfinished image in list order
        that nobody else holds.
        """
        claimer, session = self.claimer, self.session
        if claimer is None or session is None:
            return None
        from core.project.team import assignments, next_in_queue

        after = None if session.current is None else session.current.image_id
        me = claimer.host
        if claimer.user in assignments(claimer.db).values():
            target = next_in_queue(claimer.db, claimer.user, after=after, claims=self.claims, me=me)
        else:
            target, seen = after, set()
            while True:
                target = self.image_list.next_unfinished(target)
                if target is None or target in seen:
                    target = None
                    break
                seen.add(target)
                held = self.claims.get(target)
                if held is None or held.host == me:
                    break
        if target is None:
            self.say("Nothing left for you: every unfinished image is done or open elsewhere.")
        else:
            self.open_image(target)
        return target

    # ------------------------------------------------------------------ retraining

    def begin_retrain(self) -> bool:
        """Take the project's retraining lock (team projects); False with a message if busy."""
        session = self.session
        if session is None:
            return True
        from core.errors import SkinTraceError
        from core.project.team_sync import RetrainLock

        lock = RetrainLock(session.project.db, user=session.project.user)
        try:
            lock.acquire()
        except SkinTraceError as exc:
            self.notifier.report(str(exc))
            return False
        self.retrain_lock = lock
        return True

    def retrain_state_changed(self, state: str) -> None:
        if state == "idle":
            self._end_retrain()

    def _retrain_progress(self, *_args: Any) -> None:
        lock = self.retrain_lock
        if lock is not None:
            run_function(lock.renew, pool=self.pool, on_error=self.say)

    def _end_retrain(self) -> None:
        lock, self.retrain_lock = self.retrain_lock, None
        if lock is not None:
            from core.errors import SkinTraceError

            try:
                lock.release()
            except SkinTraceError as exc:
                self.say(str(exc))

    def no_edit_text(self) -> str | None:
        """Why painting is off here (someone else holds the image), or None."""
        if self.blocked_by is None:
            return None
        return f"Painting is off: {self.blocked_by.label()} has this image open."

    def say(self, message: str) -> None:
        self.notifier.note(message)


def install(
    frame: Frame,
    *,
    training: RetrainController,
    prelabels: PrelabelController,
    model_history: ModelHistoryView,
    open_image: Callable[[int | None], None],
) -> TeamMonitor:
    """Build team work: monitor, Team dock, File → Open team project…, retraining lock.

    The window keeps the monitor as ``team``; it asks :attr:`TeamMonitor.blocks_editing`
    in its ``update_editable`` (``blockingChanged`` says when to ask again).
    """
    monitor = TeamMonitor(frame.image_list, frame.status, frame.notifier, open_image, frame.window)
    # a tab beside the GT parameters: a dock of its own would squeeze the right column
    dock = frame.add_tabbed_dock("Team", monitor.panel, "team", beside="params")
    dock.hide()  # shown when a team project opens

    def show_dock(session: object) -> None:
        if session is None:
            return
        dock.setVisible(monitor.active)
        if monitor.active:
            dock.raise_()  # a team project opened: its tab in front

    frame.session_changed.connect(monitor.attach)
    frame.session_changed.connect(show_dock)
    training.before_start = monitor.begin_retrain  # one retraining at a time per project
    training.stateChanged.connect(monitor.retrain_state_changed)
    training.epochReported.connect(monitor._retrain_progress)
    monitor.modelChanged.connect(lambda _id: model_history.refresh())
    monitor.modelChanged.connect(lambda _id: prelabels.refresh_source())
    return monitor
