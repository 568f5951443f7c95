"""Review mode: two queues, submitted images and model pre-labels, each with A / R.

While review mode is on, ``A`` accepts and ``R`` rejects the open image of the queue
shown (the "show rough masks" toggle moves from R to Shift+R meanwhile), and the next
image of that queue opens.

- **Submitted** images: a rejection asks for a comment, stored with the status change
  in the image's history; rejected images count as unfinished, so they come back to the
  annotator, and the history dock shows the comment when the image is opened.
- **Pre-labeled** images: *Accept pre-label* turns the shown pre-label into rough masks
  through the document (as Ctrl+P does, so GT = rough × texture), saves them and moves
  the image in progress → submitted → accepted, each step in the history as "accepted
  model pre-label (source: …)" under the reviewer's name. *Reject pre-label* discards
  the stored pre-label and sends the image back to "new" for the annotator to paint;
  :func:`core.prelabel.reject_prelabel` remembers the source, so only a different
  (newer) model pre-labels that image again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.classes import CLASSES

if TYPE_CHECKING:
    from .main_window import MainWindow

#: Shortcuts of review mode, and the window shortcut they displace meanwhile.
ACCEPT_KEY, REJECT_KEY = "A", "R"
DISPLACED = {"toggle_rough": "Shift+R"}
#: The review queues: the status each one lists, and its label.
QUEUES = {"submitted": "Submitted images", "prelabeled": "Model pre-labels"}


class CommentDialog(QDialog):
    """Asks why an image is rejected; OK needs a non-empty comment."""

    def __init__(self, image_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reject image")
        self.setObjectName("reject_dialog")
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("What should the annotator fix? (Ctrl+Enter sends)")
        self.text.installEventFilter(self)  # Ctrl+Enter sends: the keyboard flow of A / R
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Reject <b>{image_name}</b> and send it back because:"))
        layout.addWidget(self.text)
        layout.addWidget(self.buttons)
        self.text.textChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.comment()))

    def comment(self) -> str:
        return self.text.toPlainText().strip()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if (
            watched is self.text
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            if self.comment():
                self.accept()
            return True
        return super().eventFilter(watched, event)


class ReviewController(QObject):
    """Review mode state, the queue, and the accept/reject moves."""

    #: (bool) review mode turned on/off.
    modeChanged = Signal(bool)
    #: () the queue of submitted images changed.
    queueChanged = Signal()
    #: (queue key) the queue shown changed (see :data:`QUEUES`).
    kindChanged = Signal(str)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session: Any = None
        self.active = False
        #: The queue shown, a key of :data:`QUEUES`; A / R act on it.
        self.kind = "submitted"
        self._saved_shortcuts: dict[str, list[QKeySequence]] = {}
        self._reviewed: set[Any] = set()  # moved by us; their status is being written

    def attach(self, session: Any) -> None:
        if self.session is not None:
            self.session.statusChanged.disconnect(self._on_status)
        self.set_active(False)
        self.session = session
        if session is not None:
            session.statusChanged.connect(self._on_status)
        self.queueChanged.emit()

    def queue(self) -> list[Any]:
        """Images of the queue shown (submitted, or pre-labeled) in list order."""
        image_list = self.window.image_list
        return [
            r.id
            for r in image_list.model.records
            if image_list.status(r.id) == self.kind and r.id not in self._reviewed
        ]

    def set_queue(self, kind: str) -> None:
        """Show the ``"submitted"`` or ``"prelabeled"`` queue (A / R then act on it)."""
        if kind not in QUEUES:
            raise ValueError(f"review queue must be one of {sorted(QUEUES)}, not {kind!r}")
        if kind == self.kind:
            return
        self.kind = kind
        self._update_action_labels()
        self.kindChanged.emit(kind)
        self.queueChanged.emit()
        if self.active:
            self.open_next()

    def _update_action_labels(self) -> None:
        reg = self.window.registry
        if self.kind == "prelabeled":
            reg["review_accept"].setText("&Accept pre-label (review)")
            reg["review_reject"].setText("Re&ject pre-label (review)")
        else:
            reg["review_accept"].setText("&Accept (review)")
            reg["review_reject"].setText("Re&ject with comment… (review)")

    def _on_status(self, image_id: Any, _status: str) -> None:
        self._reviewed.discard(image_id)
        self.queueChanged.emit()

    def set_active(self, on: bool) -> None:
        """Enter or leave review mode (swaps the A/R shortcuts in and out)."""
        on = bool(on) and self.session is not None
        if on == self.active:
            return
        reg = self.window.registry
        if on:
            for key, replacement in DISPLACED.items():
                self._saved_shortcuts[key] = list(reg[key].shortcuts())
                reg[key].setShortcut(QKeySequence(replacement))
            reg["review_accept"].setShortcut(QKeySequence(ACCEPT_KEY))
            reg["review_reject"].setShortcut(QKeySequence(REJECT_KEY))
        else:
            reg["review_accept"].setShortcut(QKeySequence())
            reg["review_reject"].setShortcut(QKeySequence())
            for key, shortcuts in self._saved_shortcuts.items():
                reg[key].setShortcuts(shortcuts)
            self._saved_shortcuts.clear()
        for key in ("review_accept", "review_reject"):
            reg[key].setEnabled(on)
        self.active = on
        if reg["review_mode"].isChecked() != on:
            reg["review_mode"].setChecked(on)
        self.modeChanged.emit(on)
        if on:
            self.open_next()

    def current_id(self) -> Any:
        s = self.session
        return None if s is None or s.current is None else s.current.image_id

    def open_next(self) -> Any:
        """Open the image to review: the open one if it waits for review, else the first."""
        queue = self.queue()
        if not queue:
            what = "pre-label" if self.kind == "prelabeled" else "review"
            self.window.status.showMessage(f"The {what} queue is empty.", 5000)
            return None
        current = self.current_id()
        target = current if current in queue else queue[0]
        if target != current:
            self.window.open_image(target)
        return target

    def _reviewable(self) -> Any:
        image_id = self.current_id()
        if not self.active or image_id is None:
            return None
        if self.session.read_only:
            self.window.report("the project is open read-only; statuses cannot change")
            return None
        if self.window.image_list.status(image_id) != self.kind or image_id in self._reviewed:
            what = "pre-labeled" if self.kind == "prelabeled" else "submitted"
            self.window.status.showMessage(f"Only {what} images are in this queue.", 5000)
            return None
        return image_id

    def accept(self) -> bool:
        """Accept the open image (or its pre-label) and open the next one of the queue."""
        image_id = self._reviewable()
        if image_id is None:
            return False
        if self.kind == "prelabeled":
            return self._accept_prelabel(image_id)
        self._move(image_id, "accepted", "")
        return True

    def reject(self) -> bool:
        """Reject the open image (asking why) or its pre-label, and open the next one."""
        image_id = self._reviewable()
        if image_id is None:
            return False
        if self.kind == "prelabeled":
            return self._reject_prelabel(image_id)
        name = self.session.current.record.name
        dialog = CommentDialog(name, self.window)
        answer = dialog.exec()
        # keep the keyboard flow: A/R go to the window again after the dialog
        self.window.activateWindow()
        self.window.canvas.setFocus()
        if answer != QDialog.DialogCode.Accepted or not dialog.comment():
            return False
        self._move(image_id, "rejected", dialog.comment())
        return True

    def _move(self, image_id: Any, status: str, comment: str) -> None:
        self.session.set_status(image_id, status, comment=comment)
        self._done(image_id)

    def _done(self, image_id: Any) -> None:
        """``image_id`` left the queue (its new status is being written): open the next."""
        self._reviewed.add(image_id)
        self.queueChanged.emit()
        self.open_next()

    def _accept_prelabel(self, image_id: Any) -> bool:
        """Pre-label → rough masks (one undo step), saved; then submitted and accepted."""
        from core.prelabel import accept_comment

        prelabels = self.window.prelabels
        source = prelabels.shown_source()
        doc = self.session.document
        if source is None or doc is None:
            self.window.status.showMessage("The pre-label is not shown yet; try again.", 5000)
            return False
        if not prelabels.use_as_rough():
            return False
        if not any(doc.rough(c).any() for c in CLASSES):
            # an accepted image with nothing painted would teach the model empty masks
            self.window.status.showMessage(
                "This pre-label marks nothing: reject it (R) so the image is painted.", 8000
            )
            return False
        comment = accept_comment(source)
        self.session.save_current(comment=comment)
        self.session.set_status(
            image_id, "accepted", comment=comment, through=("in_progress", "submitted")
        )
        self.window.status.showMessage(f"Pre-label accepted ({source}).", 5000)
        self._done(image_id)
        return True

    def _reject_prelabel(self, image_id: Any) -> bool:
        """Discard the stored pre-label; the image goes back to "new" for the annotator."""
        from core.prelabel import reject_prelabel

        project = self.session.project

        def job() -> Any:
            reject_prelabel(project, image_id)
            return project.image(image_id).status

        self.session.submit_status_job(image_id, job)
        self.window.prelabels.forget(image_id)
        self.window.status.showMessage("Pre-label rejected; the image goes back to annotation.")
        self._done(image_id)
        return True


class ReviewPanel(QWidget):
    """The review dock: mode toggle, queue, accept and reject buttons."""

    def __init__(self, controller: ReviewController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.mode = QPushButton("Review mode")
        self.mode.setCheckable(True)
        self.kind = QComboBox()
        self.kind.setObjectName("review_queue")
        for key, label in QUEUES.items():
            self.kind.addItem(label, key)
        self.count = QLabel("")
        self.list = QListWidget()
        self.accept_button = QPushButton(f"Accept ({ACCEPT_KEY})")
        self.reject_button = QPushButton(f"Reject… ({REJECT_KEY})")
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.mode)
        layout.addWidget(self.kind)
        layout.addWidget(self.count)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.mode.toggled.connect(controller.set_active)
        self.kind.currentIndexChanged.connect(lambda i: controller.set_queue(self.kind.itemData(i)))
        controller.kindChanged.connect(self._on_kind)
        controller.modeChanged.connect(self._on_mode)
        controller.queueChanged.connect(self.refresh)
        self.accept_button.clicked.connect(controller.accept)
        self.reject_button.clicked.connect(controller.reject)
        self.list.itemActivated.connect(self._open)
        self.list.itemClicked.connect(self._open)
        self._on_mode(False)

    def refresh(self) -> None:
        records = {r.id: r for r in self.controller.window.image_list.model.records}
        self.list.clear()
        queue = self.controller.queue()
        for image_id in queue:
            item = QListWidgetItem(records[image_id].name)
            item.setData(Qt.ItemDataRole.UserRole, image_id)
            self.list.addItem(item)
        if self.controller.kind == "prelabeled":
            self.count.setText(f"{len(queue)} model pre-label(s) to review")
        else:
            self.count.setText(f"{len(queue)} submitted image(s) to review")
        self.highlight(self.controller.current_id())

    def highlight(self, image_id: Any) -> None:
        """Select the queue entry of the image on the canvas (none if it is not queued)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == image_id:
                self.list.setCurrentItem(item)
                return
        self.list.setCurrentItem(None)

    def _on_kind(self, kind: str) -> None:
        index = self.kind.findData(kind)
        if self.kind.currentIndex() != index:
            self.kind.setCurrentIndex(index)
        pre = kind == "prelabeled"
        self.accept_button.setText(
            f"Accept pre-label ({ACCEPT_KEY})" if pre else f"Accept ({ACCEPT_KEY})"
        )
        self.reject_button.setText(
            f"Reject pre-label ({REJECT_KEY})" if pre else f"Reject… ({REJECT_KEY})"
        )

    def _on_mode(self, on: bool) -> None:
        if self.mode.isChecked() != on:
            self.mode.setChecked(on)
        self.accept_button.setEnabled(on)
        self.reject_button.setEnabled(on)
        self.refresh()

    def _open(self, item: QListWidgetItem) -> None:
        self.controller.window.open_image(item.data(Qt.ItemDataRole.UserRole))


def install(window: MainWindow) -> ReviewController:
    """Mount review mode: controller, dock and Image menu actions."""
    controller = ReviewController(window)
    reg = window.registry
    menu = window.menus["image"]
    menu.addSeparator()
    menu.addAction(
        reg.add("review_mode", "Re&view mode", controller.set_active, "Ctrl+R", checkable=True)
    )
    menu.addAction(reg.add("review_accept", "&Accept (review)", controller.accept))
    menu.addAction(reg.add("review_reject", "Re&ject with comment… (review)", controller.reject))
    for key in ("review_accept", "review_reject"):
        reg[key].setEnabled(False)
    panel = ReviewPanel(controller)
    window.review = controller
    window.review_panel = panel
    from .prelabel_worker import add_tabbed_dock

    left = Qt.DockWidgetArea.LeftDockWidgetArea
    dock = add_tabbed_dock(window, "Review", panel, "review", beside="images", area=left)
    # Entering review mode brings the queue and the Accept / Reject buttons to the front.
    controller.modeChanged.connect(lambda on: dock.raise_() if on else None)
    window.sessionChanged.connect(controller.attach)
    controller.attach(window.session)

    def follow(session: Any) -> None:  # the queue highlights the image being shown
        if session is not None:
            session.documentOpened.connect(lambda loaded: panel.highlight(loaded.image_id))

    window.sessionChanged.connect(follow)
    follow(window.session)
    return controller
