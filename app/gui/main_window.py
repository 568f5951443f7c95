"""The annotation window: composes the canvas and the docks, wires their signals."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, QThreadPool, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSizePolicy,
    QWidget,
)

from core.classes import CLASSES

from . import agreement_view, faces, repair, start_hint, team, team_dialog, window_state
from .actions import build_actions
from .agreement_view import AgreementView
from .assist import history_view, model_history, prelabel_worker, review_panel, training_panel
from .assist.history_view import HistoryView
from .assist.model_history import ModelHistoryView
from .assist.prelabel_worker import PrelabelController
from .assist.retraining import RetrainController
from .assist.review import ReviewController
from .assist.review_panel import ReviewPanel
from .assist.training_panel import TrainingPanel
from .bridge import DocumentBridge
from .canvas import ImageCanvas
from .face_import import FaceQueue
from .faces import FaceController, FacePanel
from .fit import FitScrollArea
from .focus import InputGuard
from .image_list import ImageList
from .layers import LayersModel
from .layers_panel import LayersPanel
from .loading import LoadFeedback
from .params_panel import ParamsPanel
from .parts import Docks, Frame, Menus, WindowNotifier, add_dock
from .preferences import Preferences, PreferencesDialog
from .project_dialogs import ProjectActions, remember
from .repair import DamageMonitor
from .session import AnnotationSession
from .shortcuts import ActionRegistry, ShortcutsDialog
from .start_hint import StartHint
from .status_bar import StatusBar
from .team import TeamMonitor, team_start
from .team_dialog import TeamOpener
from .tools import ToolState
from .tools_panel import ToolsPanel

if TYPE_CHECKING:
    from core.gt.document import AnnotationDocument
    from core.progress import Progress

    from .documents import LoadedDocument

#: The window's size on a screen that has room for it (width, height).
DEFAULT_SIZE = (1480, 920)
#: How long closing waits for background jobs still running (ms).
CLOSE_WAIT_MS = 10_000


class MainWindow(QMainWindow):
    """SkinTrace's main window.

    Every part is declared below and built in ``__init__``: the core parts first, then
    the model-assisted parts, each by its module's ``install(frame, ...)`` from the
    :class:`~app.gui.parts.Frame` of core parts (and the parts it depends on), never from
    the window. Extension points: :meth:`add_dock` for new panels, :attr:`menus` and
    :attr:`registry` for menu actions with shortcuts, ``layers.set_prediction`` for the
    prediction layer, and ``session.set_status`` for every status change.
    """

    #: (AnnotationSession | None) a project was opened or closed (model-assisted parts follow).
    sessionChanged = Signal(object)

    # -- core parts --
    prefs: Preferences
    session: AnnotationSession | None
    load_feedback: LoadFeedback | None
    input_guard: InputGuard
    layers: LayersModel
    tools: ToolState
    bridge: DocumentBridge
    canvas: ImageCanvas
    status: StatusBar
    notifier: WindowNotifier
    image_list: ImageList
    tools_panel: ToolsPanel
    layers_panel: LayersPanel
    params_panel: ParamsPanel
    registry: ActionRegistry  # every action, by key
    project_actions: ProjectActions
    menus: Menus
    docks: Docks
    # -- model-assisted parts (docs/model-assisted.md) --
    prelabels: PrelabelController
    training: RetrainController
    training_panel: TrainingPanel
    model_history: ModelHistoryView
    review: ReviewController
    review_panel: ReviewPanel
    history_view: HistoryView
    faces: FaceController
    face_panel: FacePanel
    face_queue: FaceQueue
    agreement_view: AgreementView
    independent_action: QAction
    damage: DamageMonitor
    start_hint: StartHint
    team: TeamMonitor  # team projects: claims, live statuses, Team dock
    team_opener: TeamOpener  # File → Open team project…

    def __init__(self, prefs: Preferences | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prefs = prefs or Preferences.load()
        self.session = None
        self._busy = False
        self.load_feedback = None
        self.layers = LayersModel(self)
        self.layers.set_colors(self.prefs.colors)
        self.tools = ToolState(radius=self.prefs.brush_radius, parent=self)
        self.bridge = DocumentBridge(self)
        self.canvas = ImageCanvas(self.layers, self.tools)
        self.setCentralWidget(self.canvas)
        # wheel and focus rules for every panel, present and future (docs/annotation-window.md)
        self.input_guard = InputGuard(self, self.canvas)
        self.status = StatusBar(self)
        self.setStatusBar(self.status)
        self.notifier = WindowNotifier(self, self.status)
        self.image_list = ImageList()
        self.tools_panel = ToolsPanel(self.tools, self.layers, self.clear_class)
        self.layers_panel = LayersPanel(self.layers)
        self.params_panel = ParamsPanel()
        self.registry = ActionRegistry(self)
        self.project_actions = ProjectActions(self, self)
        self.menus = build_actions(self)
        self.docks = Docks()
        left = Qt.DockWidgetArea.LeftDockWidgetArea
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.add_dock("Images", self.image_list, left, "images")
        # the right column must fit a 1366×768 screen under a title bar: Tools and Layers
        # keep their height, the GT parameters scroll in what is left
        for panel in (self.tools_panel, self.layers_panel):
            panel.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.add_dock("Tools", self.tools_panel, right, "tools")
        self.add_dock("Layers", self.layers_panel, right, "layers")
        self.add_dock("GT parameters", FitScrollArea(self.params_panel), right, "params")
        self._install_assisted_parts()

        self.bridge.changed.connect(self.canvas.on_document_change)
        self.bridge.changed.connect(self._update_actions)
        self.bridge.changed.connect(self._on_params_change)
        self.canvas.cursorMoved.connect(
            lambda r, c: self.status.show_cursor(self.canvas.document, r, c)
        )
        self.canvas.zoomChanged.connect(self.status.show_zoom)
        self.canvas.editRefused.connect(self._explain_no_edit)
        self.canvas.toolMessage.connect(lambda text: self.status.showMessage(text, 5000))
        self.tools.changed.connect(lambda: self.canvas.stack.set_texture_class(self.tools.cls))
        self.image_list.imageActivated.connect(self.open_image)
        self.resize(*DEFAULT_SIZE)
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None and screen.width() > 0 and screen.height() > 0:
            # a laptop screen (1366×768): the window fits it rather than hanging off it
            self.resize(min(DEFAULT_SIZE[0], screen.width()), min(DEFAULT_SIZE[1], screen.height()))
        self._update_title()
        self._update_actions()

    def _install_assisted_parts(self) -> None:
        """Build the model-assisted parts (docs/model-assisted.md), in dock and menu order."""
        frame = Frame(
            window=self,
            registry=self.registry,
            menus=self.menus,
            docks=self.docks,
            notifier=self.notifier,
            status=self.status,
            canvas=self.canvas,
            layers=self.layers,
            tools=self.tools,
            image_list=self.image_list,
            session_changed=self.sessionChanged,
        )
        self.prelabels = prelabel_worker.install(frame)
        self.training, self.training_panel = training_panel.install(frame, self.prelabels)
        self.model_history = model_history.install(frame, self.prelabels, self.training)
        self.review, self.review_panel = review_panel.install(
            frame, self.prelabels, self.open_image
        )
        self.review.modeChanged.connect(self._on_review_mode)
        self.history_view = history_view.install(frame)
        self.faces, self.face_panel, self.face_queue = faces.install(frame)
        # several annotators: mode switch, Agreement dock
        self.agreement_view, self.independent_action = agreement_view.install(frame)
        self.damage = repair.install(frame, self.open_image)  # badges, Image → Repair
        self.start_hint = start_hint.install(frame)
        self.team = team.install(
            frame,
            training=self.training,
            prelabels=self.prelabels,
            model_history=self.model_history,
            open_image=self.open_image,
        )
        self.team.blockingChanged.connect(self.update_editable)
        self.team_opener = team_dialog.install(frame, self.set_session)

    def show_fitted(self) -> None:
        """Show the window; maximized on a screen smaller than its default size.

        A window resized to the screen's available size still hangs off it by the window
        manager's title bar and frame (the status bar and the lower docks' tabs out of
        sight at 1366×768); maximized, the window manager fits the frame in.
        """
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        small = screen is not None and (
            screen.width() < DEFAULT_SIZE[0] or screen.height() < DEFAULT_SIZE[1]
        )
        if small:
            self.showMaximized()
        else:
            self.show()

    # -- extension points ----------------------------------------------------------

    def add_dock(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea, key: str
    ) -> QDockWidget:
        """Add a dock panel (also listed in View -> Panels; ``docks[key]`` finds it)."""
        return add_dock(self, self.menus, self.docks, title, widget, area, key)

    @property
    def messages(self) -> list[str]:
        """Every problem shown to the user, oldest first (tests read it)."""
        return self.notifier.messages

    # -- project -----------------------------------------------------------------

    def open_project(
        self, folder: str | Path, *, read_only: bool = False, reason: str | None = None
    ) -> bool:
        """Open the project in ``folder``.

        A folder that cannot be written (read-only medium, no permission) opens
        read-only at once; a project open in another SkinTrace offers read-only. The
        status bar's "Read-only" badge and message say why (``reason``).
        """
        from core.errors import ProjectLockedError, ProjectNotWritableError, SkinTraceError
        from core.project import Project
        from core.project.pg.database import is_team_url

        try:
            # a team project records its PostgreSQL user (authenticated), not a typed name
            user = None if is_team_url(folder) else self.prefs.user_name
            project = Project.open(folder, read_only=read_only, user=user)
        except SkinTraceError as exc:
            message = str(exc)
            if not read_only and isinstance(exc, ProjectNotWritableError):
                # A read-only medium or missing permission: writing can never work here,
                # so open read-only straight away and keep saying why.
                why = message.removesuffix("; open it read-only?")
                return self.open_project(folder, read_only=True, reason=f"{why}: opened read-only")
            if not read_only and isinstance(exc, ProjectLockedError):
                # Another SkinTrace has it: the user may rather wait for it to close.
                if self.ask(_as_question(message, "Open it read-only?")):
                    why = message.removesuffix("; open it read-only?")
                    return self.open_project(folder, read_only=True, reason=why)
                return False
            self.report(message)
            return False
        self.set_session(AnnotationSession(project, self))
        if project.read_only:
            why = reason or f"{project.root} was opened read-only"
            self.status.show_read_only(why, _short_cause(why))
        if not is_team_url(folder):  # a team address may hold a password: never kept
            remember(folder)
        return True

    def set_session(self, session: AnnotationSession) -> None:
        if self.session is not None:
            self._close_session()
        self.session = session
        self.status.show_read_only(None)
        session.documentOpened.connect(self._on_document_opened)
        self.image_list.set_model(session.model)  # statuses: the session's one model
        session.error.connect(self.report)
        session.saveStateChanged.connect(self.status.show_save_state)
        session.busyChanged.connect(self._on_busy)
        session.busyProgress.connect(self._on_busy_progress)
        session.loadFailed.connect(lambda _id: self.image_list.select(self._current_id()))
        if self.load_feedback is not None:
            self.load_feedback.disconnect_all()
        self.load_feedback = LoadFeedback(
            self.canvas, self.image_list, self.status, session, self
        )  # large images: preview first
        self.params_panel.paramsEdited.connect(session.set_params)
        self.params_panel.overrideCleared.connect(self._clear_override)
        self.update_editable()
        self.refresh_images()
        saved = window_state.load(session.project.root)
        ids = self.image_list.visible_ids()
        mine = team_start(session.project)  # a team project: the first image of one's queue
        first: int | None
        if mine is not None:
            first = mine
        elif saved is not None and saved.image_id in {r.id for r in self.image_list.model.records}:
            first = saved.image_id  # where this project was left
        else:  # the first image nobody started, else the first unfinished one
            first = (
                self.image_list.first_with_status("new", "prelabeled")
                or self.image_list.next_unfinished(None)
                or next(iter(ids), None)
            )
        if saved is not None:
            window_state.apply_tools_and_layers(self, saved)
        if first is not None:
            session.open_image(first, wait=True)
            if saved is not None and first == saved.image_id:
                self.canvas.set_view_state(saved.view)
        self._update_title()
        self._update_actions()  # an empty new project: Import must be enabled
        self.sessionChanged.emit(session)
        if first is None and not session.read_only:  # a new project: say what comes next
            self.status.showMessage("No images yet: File → Import images… (Ctrl+I) adds a folder.")

    def refresh_images(self) -> None:
        if self.session is not None:
            self.session.records()  # into session.model, which the list shows

    # -- images ------------------------------------------------------------------

    def open_image(self, image_id: int | None) -> None:
        if self.session is None or image_id is None:
            return
        self.params_panel.flush()
        self.session.open_image(image_id)

    def next_image(self) -> None:
        self.open_image(self.image_list.neighbour(self._current_id(), +1))

    def previous_image(self) -> None:
        self.open_image(self.image_list.neighbour(self._current_id(), -1))

    def next_unfinished(self) -> None:
        if self.team.active:  # a team project: one's own queue
            self.team.next_in_queue()
            return
        target = self.prelabels.next_target(self._current_id())
        if target is None:
            self.status.showMessage("Every image is submitted — nothing left to annotate.", 5000)
        self.open_image(target)

    def submit(self) -> None:
        if self.session is None or self.session.current is None:
            return
        doc, name = self.session.current.document, self.session.current.record.name
        if not any(doc.rough(cls).any() for cls in CLASSES) and not self.ask(
            f"{name} has nothing painted. Submit it anyway?"
        ):
            return  # most likely an accident (e.g. everything undone)
        self.params_panel.flush()
        image_id = self.session.submit_current()
        if image_id is None:
            return
        # its badge turns "submitted" when the catalog has it (session.model)
        self.next_unfinished()

    def _current_id(self) -> int | None:
        s = self.session
        return None if s is None or s.current is None else s.current.image_id

    def _on_document_opened(self, loaded: LoadedDocument) -> None:
        self.canvas.set_document(loaded.document)
        self.bridge.attach(loaded.document)
        self.canvas.stack.set_texture_class(self.tools.cls)
        session = self.session
        if session is None:  # only connected while a session exists
            return
        self.params_panel.show_params(
            loaded.document.params,
            image_id=loaded.image_id,
            has_override=session.has_override(loaded.image_id),
        )
        self._show_chosen(loaded.document)
        self.params_panel.setEnabled(not session.read_only)
        self.image_list.select(loaded.image_id)
        self._update_title()
        self._update_actions()
        for candidate in (
            self.image_list.neighbour(loaded.image_id, +1),
            self.prelabels.next_target(loaded.image_id),
        ):
            session.prefetch(candidate)

    def update_editable(self) -> None:
        """Painting is on unless the project is read-only, an image is loading, or in review."""
        s = self.session
        review = getattr(self, "review", None)
        self.canvas.editable = not (
            self._busy
            or (s is not None and s.read_only)
            or (review is not None and review.active)
            or self.team.blocks_editing  # an image another annotator holds
        )

    def _on_review_mode(self, on: bool) -> None:
        """Review mode: the reviewer judges, the annotator paints (tools off, canvas off)."""
        self.tools_panel.setEnabled(not on)
        self.update_editable()

    def _show_chosen(self, doc: AnnotationDocument) -> None:
        """The per-image thresholds in force, for the GT panel's "Auto" display."""
        if not doc.textures_ready:
            return  # shown when the deferred maps arrive (a "params" change)
        self.params_panel.show_chosen(
            {f"{cls}_threshold": doc.chosen_threshold(cls) for cls in ("wrinkle", "pore")}
        )

    def _on_params_change(self, change: object) -> None:
        session = self.session
        if getattr(change, "kind", None) == "params" and session is not None:
            if session.document is not None:
                self._show_chosen(session.document)

    def _on_busy(self, busy: bool) -> None:
        self._busy = busy
        self.update_editable()
        if busy:
            self.status.show_busy("Working…")
        else:
            self.status.hide_busy()

    def _explain_no_edit(self) -> None:
        if self.session is not None and self.session.read_only:
            text = "The project is open read-only: painting is off (reopen it for writing)."
        elif self.review.active:
            text = "Review mode: painting is off. A accepts, R rejects; Ctrl+R leaves review mode."
        elif self.team.blocks_editing:
            text = self.team.no_edit_text() or ""
        else:
            text = "Painting resumes when the image is ready."
        if not self.status.busy.isVisible():  # a progress message already says it
            self.status.showMessage(text, 5000)

    def _on_busy_progress(self, progress: Progress) -> None:
        self.status.show_busy(f"{progress.message.capitalize()}…", progress.done, progress.total)

    def _clear_override(self, image_id: int) -> None:
        if self.session is not None:
            self.session.clear_override(image_id)
            # the values the image uses from now on: a large image's document still holds
            # the old ones until its maps are recomputed in the background
            default = self.session.project.params(None)
            self.params_panel.show_params(default, image_id=image_id, has_override=False)
            doc = self.session.document
            if doc is not None:
                self._show_chosen(doc)

    # -- editing -----------------------------------------------------------------

    def undo(self) -> None:
        if self.session is not None:
            self.session.undo()

    def redo(self) -> None:
        if self.session is not None:
            self.session.redo()

    def clear_class(self) -> None:
        if self.session is not None:
            self.session.clear_class(self.tools.cls)

    def flush_async(self) -> None:
        if self.session is not None:
            self.session.save_current()

    def _update_actions(self, *_args: object) -> None:
        doc = self.canvas.document
        ro = self.session is None or self.session.read_only
        self.registry["undo"].setEnabled(doc is not None and not ro and doc.can_undo)
        self.registry["redo"].setEnabled(doc is not None and not ro and doc.can_redo)
        for key in ("submit", "clear_class", "import_images"):
            self.registry[key].setEnabled(not ro)
        self.tools_panel.clear_button.setEnabled(not ro)

    def _update_title(self) -> None:
        parts = ["SkinTrace"]
        s = self.session
        if s is not None:
            tags = [f"team project, {s.project.user}"] if s.project.is_team else []
            tags += ["read-only"] if s.read_only else []
            parts.append(s.project.name + "".join(f" [{t}]" for t in tags))
            if s.current is not None:
                parts.append(s.current.record.name)
        self.setWindowTitle(" — ".join(parts))

    # -- dialogs -----------------------------------------------------------------

    def edit_preferences(self) -> None:
        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec():
            self.apply_preferences(dialog.preferences())

    def apply_preferences(self, prefs: Preferences) -> None:
        prefs.save()
        self.prefs = prefs
        team = self.session is not None and self.session.project.is_team
        if self.session is not None and prefs.user_name and not team:
            # status changes from now on are recorded under the new name
            self.session.project.user = prefs.user_name
        self.layers.set_colors(prefs.colors)
        self.tools.set_radius(prefs.brush_radius)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.registry.actions(), self)
        dialog.show()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About SkinTrace",
            "SkinTrace 0.1 — semi-automatic annotation of facial wrinkles and pores "
            "(Yoon et al., Diagnostics 2023).",
        )

    def report(self, message: str) -> None:
        """Show a one-line problem without blocking; the window keeps working."""
        self.notifier.report(message)

    def ask(self, question: str) -> bool:
        """Ask a yes/no question (modal); True for yes."""
        return self.notifier.ask(question)

    # -- closing -----------------------------------------------------------------

    def _close_session(self) -> None:
        session = self.session
        if session is None:
            return
        window_state.save(self)
        self.params_panel.flush()
        importer = self.project_actions.import_worker
        if importer is not None and not importer.ended:
            importer.cancel()  # images imported so far are kept
            while not importer.ended:
                QCoreApplication.processEvents()
                time.sleep(0.01)
        session.save_current()
        if not session.writer.wait_idle(0.3):
            dialog = QProgressDialog("Saving your work…", "", 0, 0, self)
            dialog.setCancelButton(None)
            dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
            dialog.show()
            while not session.writer.wait_idle(0.05):
                QCoreApplication.processEvents()
                time.sleep(0.01)
            dialog.close()
        self.params_panel.paramsEdited.disconnect(session.set_params)
        self.params_panel.overrideCleared.disconnect(self._clear_override)
        self.bridge.detach()
        self.canvas.set_document(None)
        self.sessionChanged.emit(None)
        session.close()
        self.session = None

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self._close_session()
        # Jobs still running on the pools (a pre-label, a prefetch, thumbnails) must end
        # before the interpreter tears the Qt objects down under them. Their results are
        # dropped: the session is closed. Thumbnails not started yet are not needed.
        self.image_list.thumb_pool.clear()
        pools = (self.prelabels.pool, self.image_list.thumb_pool, self.damage.pool)
        for pool in (*pools, QThreadPool.globalInstance()):
            pool.waitForDone(CLOSE_WAIT_MS)
        super().closeEvent(event)


def _short_cause(reason: str) -> str:
    """A few words for the read-only badge: the system's reason in brackets, if any."""
    if "open in another SkinTrace" in reason:
        return "open in another SkinTrace"
    found = re.search(r"cannot be opened for writing \(([^)]*)\)", reason)
    return found.group(1).lower() if found else "as asked"


def _as_question(message: str, question: str) -> str:
    """``message`` then ``question``, unless the message already ends by asking it."""
    if message.rstrip().lower().endswith(question.lower()):
        return message
    return f"{message}\n\n{question}"
