"""The review dock (mode toggle, queue, decision buttons) and how review mode is mounted."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .review import ACCEPT_KEY, QUEUES, REJECT_KEY, UNDO_KEY, UNEDITED_KEY, ReviewController

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..parts import Frame
    from ..session import AnnotationSession
    from .prelabel_worker import PrelabelController


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
        self.kind.setToolTip(
            "Which queue A / R act on: images annotators submitted, or model pre-labels"
        )
        self.mode.setToolTip(
            "Ctrl+R: judge images with A / R; painting is off while review mode is on"
        )
        self.count = QLabel("")
        self.list = QListWidget()
        self.list.setToolTip("The queue, in list order; click an image to open it")
        self.accept_button = QPushButton(f"Accept ({ACCEPT_KEY})")
        self.reject_button = QPushButton(f"Reject… ({REJECT_KEY})")
        self.unedited_button = QPushButton(f"Accept as is… ({UNEDITED_KEY})")
        self.unedited_button.setToolTip(
            "Put the pre-label into the training data as it is (asks for a confirmation)"
        )
        self.undo_button = QPushButton(f"Undo review ({UNDO_KEY})")
        self.undo_button.setToolTip("Revert the last accept / reject and reopen that image")
        buttons = QGridLayout()
        buttons.addWidget(self.accept_button, 0, 0)
        buttons.addWidget(self.reject_button, 0, 1)
        buttons.addWidget(self.unedited_button, 1, 0, 1, 2)
        buttons.addWidget(self.undo_button, 2, 0, 1, 2)
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
        self.unedited_button.clicked.connect(controller.accept_unedited)
        self.undo_button.clicked.connect(controller.undo)
        self.list.itemActivated.connect(self._open)
        self.list.itemClicked.connect(self._open)
        self._on_kind(controller.kind)

    def refresh(self) -> None:
        self.undo_button.setEnabled(bool(self.controller.decisions))
        records = {r.id: r for r in self.controller.image_list.model.records}
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

    def highlight(self, image_id: int | None) -> None:
        """Select the queue entry of the image on the canvas (none if it is not queued)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == image_id:
                self.list.setCurrentItem(item)
                return
        self.list.setCurrentItem(cast(QListWidgetItem, None))  # none current

    def _on_kind(self, kind: str) -> None:
        index = self.kind.findData(kind)
        if self.kind.currentIndex() != index:
            self.kind.setCurrentIndex(index)
        pre = kind == "prelabeled"
        self.accept_button.setText(f"Correct ({ACCEPT_KEY})" if pre else f"Accept ({ACCEPT_KEY})")
        self.accept_button.setToolTip(
            "Turn the pre-label into rough masks and leave review mode to correct them"
            if pre
            else "Accept the image as training data and open the next one"
        )
        self.reject_button.setText(f"Reject ({REJECT_KEY})" if pre else f"Reject… ({REJECT_KEY})")
        self.reject_button.setToolTip(
            "Discard the pre-label; the image goes back to the annotators"
            if pre
            else "Send the image back to its annotator with a comment"
        )
        self.unedited_button.setVisible(pre)
        self._on_mode(self.controller.active)

    def _on_mode(self, on: bool) -> None:
        if self.mode.isChecked() != on:
            self.mode.setChecked(on)
        self.accept_button.setEnabled(on)
        self.reject_button.setEnabled(on)
        self.unedited_button.setEnabled(on and self.controller.kind == "prelabeled")
        self.refresh()

    def _open(self, item: QListWidgetItem) -> None:
        self.controller.open_image(item.data(Qt.ItemDataRole.UserRole))


def install(
    frame: Frame, prelabels: PrelabelController, open_image: Callable[[int | None], None]
) -> tuple[ReviewController, ReviewPanel]:
    """Build review mode: controller, dock and Image menu actions.

    The window follows :attr:`ReviewController.modeChanged` (painting off in review mode).
    """
    controller = ReviewController(
        frame.registry,
        frame.layers,
        frame.image_list,
        frame.canvas,
        frame.notifier,
        prelabels,
        open_image,
        frame.window,
    )
    reg = frame.registry
    menu = frame.menus.image
    menu.addSeparator()
    menu.addAction(
        reg.add("review_mode", "Re&view mode", controller.set_active, "Ctrl+R", checkable=True)
    )
    menu.addAction(reg.add("review_accept", "&Accept (review)", controller.accept))
    menu.addAction(reg.add("review_reject", "Re&ject with comment… (review)", controller.reject))
    menu.addAction(
        reg.add(
            "review_unedited", "Accept pre-label &unedited… (review)", controller.accept_unedited
        )
    )
    menu.addAction(reg.add("review_undo", "&Undo review decision", controller.undo))
    for key in ("review_accept", "review_reject", "review_unedited"):
        reg[key].setEnabled(False)
    panel = ReviewPanel(controller)
    left = Qt.DockWidgetArea.LeftDockWidgetArea
    dock = frame.add_tabbed_dock("Review", panel, "review", beside="images", area=left)
    # Entering review mode brings the queue and the Accept / Reject buttons to the front.
    controller.modeChanged.connect(lambda on: dock.raise_() if on else None)
    frame.session_changed.connect(controller.attach)
    controller.attach(None)

    def follow(session: AnnotationSession | None) -> None:  # the queue follows the image shown
        if session is not None:
            session.documentOpened.connect(lambda loaded: panel.highlight(loaded.image_id))

    frame.session_changed.connect(follow)
    return controller, panel
