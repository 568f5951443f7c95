"""Review mode: two queues, submitted images and model pre-labels, each with A / R.

While review mode is on, ``A`` accepts and ``R`` rejects the open image of the queue
shown (the "show rough masks" toggle moves from R to Shift+R meanwhile), the status bar
confirms the decision ("accepted face-02 → face-03"), and the next image of that queue
opens. ``Ctrl+Z`` (or *Undo review decision*) reverts the last decision in the catalog
(:func:`core.project.workflow.undo_review`, recorded in the history) and reopens that
image. Painting is off in review mode: the reviewer judges, the annotator paints.

The queue is a :class:`~app.gui.project_model.ReviewQueueProxy` of the session's
:class:`~app.gui.project_model.ProjectModel`: images in the queue's status with no
status write in flight. A decision queues its write and leaves the queue at once (the
write is in flight); the image's status changes only when the catalog has it.

- **Submitted** images: a rejection asks for a comment, stored with the status change
  in the image's history; rejected images count as unfinished, so they come back to the
  annotator, and the history dock shows the comment when the image is opened.
- **Pre-labeled** images (the prediction layer is shown while this queue is): ``A``
  (*Correct pre-label*) turns the shown pre-label into rough masks through the document
  (as Ctrl+P does, so GT = rough × texture), moves the image to "in progress"
  (:func:`core.project.workflow.open_prelabel`) and leaves review mode, so
  the reviewer corrects it and submits it like any annotation. ``Shift+A`` (*Accept
  pre-label unedited…*) asks for a confirmation that the pre-label goes into training
  unedited, then saves it and moves the image in progress → submitted → accepted, each
  step in the history as "accepted model pre-label (source: …)" under the reviewer's
  name (:func:`core.project.workflow.accept_prelabel`). *Reject pre-label* discards
  the stored pre-label and sends the image back to "new" for the annotator to paint;
  :func:`core.project.workflow.reject_prelabel` remembers the source, so only a different
  (newer) model pre-labels that image again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from core.classes import CLASSES

from ..project_model import ReviewQueueProxy

__all__ = ["QUEUES", "CommentDialog", "ReviewController"]

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..canvas import ImageCanvas
    from ..image_list import ImageList
    from ..layers import LayersModel
    from ..parts import Notifier
    from ..session import AnnotationSession
    from ..shortcuts import ActionRegistry
    from .prelabel_worker import PrelabelController

#: Shortcuts of review mode (the controller installs them while review mode is on).
ACCEPT_KEY, REJECT_KEY, UNEDITED_KEY, UNDO_KEY = "A", "R", "Shift+A", "Ctrl+Z"
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


#: Window shortcuts review mode displaces while it is on, and their stand-ins ("" = none).
DISPLACED = {"toggle_rough": "Shift+R", "undo": ""}
#: Window actions that paint: off in review mode.
PAINT_ACTIONS = (
    "tool_brush",
    "tool_eraser",
    "tool_lasso",
    "tool_pore",
    "tool_polyline",
    "toggle_snap",
    "class_exclude",
    "clear_class",
    "prelabel_to_rough",
)


class ReviewController(QObject):
    """Review mode state, the queue, and the accept/reject moves."""

    #: (bool) review mode turned on/off.
    modeChanged = Signal(bool)
    #: () the queue of submitted images changed.
    queueChanged = Signal()
    #: (queue key) the queue shown changed (see :data:`QUEUES`).
    kindChanged = Signal(str)

    def __init__(
        self,
        registry: ActionRegistry,
        layers: LayersModel,
        image_list: ImageList,
        canvas: ImageCanvas,
        notifier: Notifier,
        prelabels: PrelabelController,
        open_image: Callable[[int | None], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.registry = registry
        self.layers = layers
        self.image_list = image_list
        self.canvas = canvas
        self.notifier = notifier
        self.prelabels = prelabels
        #: Opens an image in the window (the queue's next one).
        self.open_image = open_image
        self.session: AnnotationSession | None = None
        self.active = False
        #: The queue shown, a key of :data:`QUEUES`; A / R act on it.
        self.kind = "submitted"
        self._saved_shortcuts: dict[str, list[QKeySequence]] = {}
        #: The queue shown: a filtered view of the session's model.
        self.proxy = ReviewQueueProxy(self.kind, self)
        #: (image id, name, what was decided), newest last: what Ctrl+Z reverts.
        self.decisions: list[tuple[int, str, str]] = []
        self._prediction_was: bool | None = None  # its visibility before the pre-label queue

    def attach(self, session: AnnotationSession | None) -> None:
        if self.session is not None:
            self.session.model.changed.disconnect(self.queueChanged)
        self.set_active(False)
        self.decisions.clear()
        self.session = session
        if session is not None:
            self.proxy.setSourceModel(session.model)
            session.model.changed.connect(self.queueChanged)
        self.queueChanged.emit()

    def queue(self) -> list[int]:
        """Images of the queue shown (submitted, or pre-labeled) in list order."""
        return self.proxy.ids() if self.session is not None else []

    def set_queue(self, kind: str) -> None:
        """Show the ``"submitted"`` or ``"prelabeled"`` queue (A / R then act on it)."""
        if kind not in QUEUES:
            raise ValueError(f"review queue must be one of {sorted(QUEUES)}, not {kind!r}")
        if kind == self.kind:
            return
        self.kind = kind
        self.proxy.set_kind(kind)
        self._update_action_labels()
        self._show_prediction()
        self.kindChanged.emit(kind)
        self.queueChanged.emit()
        if self.active:
            self.open_next()

    def _update_action_labels(self) -> None:
        reg = self.registry
        reg["review_unedited"].setEnabled(self.active and self.kind == "prelabeled")
        if self.kind == "prelabeled":
            reg["review_accept"].setText("&Correct pre-label (review)")
            reg["review_reject"].setText("Re&ject pre-label (review)")
        else:
            reg["review_accept"].setText("&Accept (review)")
            reg["review_reject"].setText("Re&ject with comment… (review)")

    def set_active(self, on: bool) -> None:
        """Enter or leave review mode (swaps the A/R shortcuts in and out)."""
        on = bool(on) and self.session is not None
        if on == self.active:
            return
        reg = self.registry
        if on:
            for key, replacement in DISPLACED.items():
                self._saved_shortcuts[key] = list(reg[key].shortcuts())
                reg[key].setShortcut(QKeySequence(replacement))
            for key, seq in (
                ("review_accept", ACCEPT_KEY),
                ("review_reject", REJECT_KEY),
                ("review_unedited", UNEDITED_KEY),
                ("review_undo", UNDO_KEY),
            ):
                reg[key].setShortcut(QKeySequence(seq))
        else:
            for key in ("review_accept", "review_reject", "review_unedited", "review_undo"):
                reg[key].setShortcut(QKeySequence())
            for key, shortcuts in self._saved_shortcuts.items():
                reg[key].setShortcuts(shortcuts)
            self._saved_shortcuts.clear()
        for key in ("review_accept", "review_reject"):
            reg[key].setEnabled(on)
        self.active = on
        self._update_action_labels()
        for key in PAINT_ACTIONS:
            if key in reg:
                reg[key].setEnabled(not on)
        self._show_prediction()
        if reg["review_mode"].isChecked() != on:
            reg["review_mode"].setChecked(on)
        self.modeChanged.emit(on)
        if on:
            self.open_next()

    def _show_prediction(self) -> None:
        """The pre-label queue shows the prediction layer (the thing judged); restore after."""
        layers = self.layers
        if self.active and self.kind == "prelabeled":
            if self._prediction_was is None:
                self._prediction_was = layers.state("prediction").visible
            layers.set_visible("prediction", True)
        elif self._prediction_was is not None:
            layers.set_visible("prediction", self._prediction_was)
            self._prediction_was = None

    def _name(self, image_id: int) -> str:
        if self.session is None:
            return str(image_id)
        try:
            return str(self.session.model.record(image_id).name)
        except KeyError:
            return str(image_id)

    def _confirm(self, what: str, image_id: int) -> None:
        """Say in the status bar what was decided and which image opens next."""
        nxt = self.current_id()
        after = "queue empty" if nxt == image_id or nxt not in self.queue() else self._name(nxt)
        self.notifier.show(f"{what} {self._name(image_id)} → {after}   (Ctrl+Z undoes)", 10000)

    def current_id(self) -> int | None:
        s = self.session
        return None if s is None or s.current is None else s.current.image_id

    def open_next(self) -> int | None:
        """Open the image to review: the open one if it waits for review, else the first."""
        queue = self.queue()
        if not queue:
            what = "pre-label" if self.kind == "prelabeled" else "review"
            self.notifier.show(f"The {what} queue is empty.", 5000)
            return None
        current = self.current_id()
        target = current if current in queue else queue[0]
        if target != current:
            self.open_image(target)
        return target

    @property
    def _open_session(self) -> AnnotationSession:
        """The open project's session: decisions are only made while one is open."""
        if self.session is None:
            raise RuntimeError("a review decision needs an open project")
        return self.session

    def _reviewable(self) -> int | None:
        image_id = self.current_id()
        if not self.active or image_id is None:
            return None
        if self._open_session.read_only:
            self.notifier.report("the project is open read-only; statuses cannot change")
            return None
        model = self._open_session.model
        if model.status(image_id) != self.kind or model.pending(image_id):
            what = "pre-labeled" if self.kind == "prelabeled" else "submitted"
            self.notifier.show(f"Only {what} images are in this queue.", 5000)
            return None
        return image_id

    def accept(self) -> bool:
        """Accept the open image (or its pre-label) and open the next one of the queue."""
        image_id = self._reviewable()
        if image_id is None:
            return False
        if self.kind == "prelabeled":
            return self._correct_prelabel(image_id)
        self._move(image_id, "accepted", "")
        self._confirm("accepted", image_id)
        return True

    def reject(self) -> bool:
        """Reject the open image (asking why) or its pre-label, and open the next one."""
        image_id = self._reviewable()
        if image_id is None:
            return False
        if self.kind == "prelabeled":
            return self._reject_prelabel(image_id)
        name = self._name(image_id)
        dialog = CommentDialog(name, self.canvas.window())
        answer = dialog.exec()
        # keep the keyboard flow: A/R go to the window again after the dialog
        self.canvas.window().activateWindow()
        self.canvas.setFocus()
        if answer != QDialog.DialogCode.Accepted or not dialog.comment():
            return False
        self._move(image_id, "rejected", dialog.comment())
        self._confirm("rejected", image_id)
        return True

    def _move(self, image_id: int, status: str, comment: str) -> None:
        self._open_session.set_status(image_id, status, comment=comment)
        self.decisions.append((image_id, self._name(image_id), status))
        self._done(image_id)

    def undo(self) -> bool:
        """Revert the last review decision in the catalog (with history) and reopen it."""
        from core.project.workflow import undo_review

        if self.session is None or not self.decisions:
            self.notifier.show("No review decision to undo.", 5000)
            return False
        if self._open_session.read_only:
            self.notifier.report("the project is open read-only; statuses cannot change")
            return False
        image_id, name, what = self.decisions.pop()
        if what == "pre-label rejected":
            self.notifier.show(
                f"The pre-label of {name} was discarded and cannot come back: "
                "open it and press Ctrl+P for a new one.",
                10000,
            )
            return False
        project = self._open_session.project

        self._open_session.submit_status_job(image_id, lambda: undo_review(project, image_id))
        self.notifier.show(f"Undone: {name} is no longer {what}; it is back in its queue.", 10000)
        self.open_image(image_id)
        return True

    def _done(self, image_id: int) -> None:
        """``image_id`` left the queue (its new status is being written): open the next."""
        self.queueChanged.emit()  # the decision can be undone
        self.open_next()

    def _prelabel_to_rough(self) -> str | None:
        """The shown pre-label → rough masks (one undo step); its source, or None."""
        prelabels = self.prelabels
        source = prelabels.shown_source()
        doc = self._open_session.document
        if source is None or doc is None:
            self.notifier.show("The pre-label is not shown yet; try again.", 5000)
            return None
        if not prelabels.use_as_rough():
            return None
        if not any(doc.rough(c).any() for c in CLASSES):
            # an accepted image with nothing painted would teach the model empty masks
            self.notifier.show(
                "This pre-label marks nothing: reject it (R) so the image is painted.", 8000
            )
            return None
        return source

    def _correct_prelabel(self, image_id: int) -> bool:
        """Pre-label → rough masks, image → in progress, review mode off: correct, submit."""
        from core.project.workflow import open_prelabel

        if self._prelabel_to_rough() is None:
            return False
        project = self._open_session.project

        # queued before the save: saving a pre-labeled image would move it without saying why
        self._open_session.submit_status_job(image_id, lambda: open_prelabel(project, image_id))
        self._open_session.save_current()
        name = self._name(image_id)
        self.decisions.append((image_id, name, "opened for correction"))
        self.set_active(False)
        self.notifier.show(
            f"{name}: correct the pre-label (review mode is off, painting is on), "
            "then Ctrl+Enter submits it.",
            15000,
        )
        return True

    def accept_unedited(self) -> bool:
        """Accept the shown pre-label as training data unedited, after a confirmation."""
        from core.project.workflow import UNEDITED_WARNING, accept_comment, accept_prelabel

        image_id = self._reviewable()
        if image_id is None:
            return False
        if self.kind != "prelabeled":
            self.notifier.show("Shift+A is for the Model pre-labels queue.", 5000)
            return False
        name = self._name(image_id)
        question = (
            f"Accept the pre-label of {name} unedited?\n\n{UNEDITED_WARNING[0].upper()}"
            f"{UNEDITED_WARNING[1:]}. To correct it first, press A instead."
        )
        answer = self.notifier.ask(question)
        self.canvas.window().activateWindow()  # keep the keyboard flow after the dialog
        self.canvas.setFocus()
        if not answer:
            return False
        source = self._prelabel_to_rough()
        if source is None:
            return False
        comment = accept_comment(source)
        self._open_session.save_current(comment=comment)
        project = self._open_session.project

        self._open_session.submit_status_job(
            image_id, lambda: accept_prelabel(project, image_id, confirmed=True)
        )
        self.decisions.append((image_id, name, "accepted (pre-label, unedited)"))
        self._done(image_id)
        self._confirm("accepted (pre-label, unedited)", image_id)
        return True

    def _reject_prelabel(self, image_id: int) -> bool:
        """Discard the stored pre-label; the image goes back to "new" for the annotator."""
        from core.project.workflow import reject_prelabel

        project = self._open_session.project

        self._open_session.submit_status_job(image_id, lambda: reject_prelabel(project, image_id))
        self.prelabels.forget(image_id)
        self.decisions.append((image_id, self._name(image_id), "pre-label rejected"))
        self._done(image_id)
        self._confirm("rejected the pre-label of", image_id)
        return True
