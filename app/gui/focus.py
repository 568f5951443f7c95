"""Keyboard focus and mouse-wheel rules for every panel of the window (one app-wide filter).

- **The wheel never changes a setting by accident**: spin boxes, sliders and combo boxes
  take the focus only by click or Tab (``Qt.StrongFocus``), and react to the wheel only
  while they have the focus; otherwise the wheel scrolls the panel they sit in.
- **Enter and Esc in a panel hand the keyboard back to the canvas**, so the single-key
  tool shortcuts (B, E, L, W, P, ``[``, ``]``...) work again at once.
- **A number box never swallows a tool shortcut**: letters and brackets cannot be typed
  into a number, so with the focus in one they still switch tools and classes. Text
  fields (names, search, comments) keep every key they can type.

The filter sits on the application, so panels added later (by any module) follow the
same rules without doing anything.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QScrollBar,
    QWidget,
)

#: Controls that change a value on the wheel: only while they have the focus.
WHEEL_GUARDED = (QAbstractSpinBox, QAbstractSlider, QComboBox)
#: Keys that hand the focus back to the canvas after the control has used them.
RETURN_KEYS = frozenset({Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape})


def _control(obj: QObject) -> QWidget | None:
    """The spin box / slider / combo box ``obj`` is (or is the line edit of), else None."""
    if isinstance(obj, QScrollBar):
        return None  # scroll bars scroll; they set nothing
    if isinstance(obj, WHEEL_GUARDED):
        return obj
    parent = obj.parent() if isinstance(obj, QLineEdit) else None
    return parent if isinstance(parent, QAbstractSpinBox | QComboBox) else None


def _scroll_area(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return parent
        parent = parent.parentWidget()
    return None


def is_number_box(obj: QObject) -> bool:
    """True for a spin box or the line edit inside one (they hold numbers, never words)."""
    return isinstance(obj, QAbstractSpinBox) or isinstance(obj.parent(), QAbstractSpinBox)


def passes_through_number_box(event: QKeyEvent) -> bool:
    """True for a key a number box cannot use, so a window shortcut may take it."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if mods & ~Qt.KeyboardModifier.ShiftModifier:
        return False  # Ctrl+..., Alt+...: the shortcut machinery decides as usual
    text = event.text()
    return len(text) == 1 and (text.isalpha() or text in "[]")


class InputGuard(QObject):
    """The app-wide event filter applying this module's rules to ``window``'s widgets.

    Return in a panel of ``window`` gives the keyboard back to ``canvas``.
    """

    def __init__(self, window: QWidget, canvas: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = canvas
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind == QEvent.Type.Polish and _control(obj) is obj and obj is not None:
            if obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        elif kind == QEvent.Type.Wheel:
            control = _control(obj)
            if control is not None and not control.hasFocus() and obj is control:
                area = _scroll_area(control)
                if area is not None:  # the panel scrolls instead
                    QApplication.sendEvent(area.verticalScrollBar(), event)
                event.ignore()
                return True
        elif kind == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if is_number_box(obj) and passes_through_number_box(event):
                event.ignore()
                return True  # not overridden: the window's shortcut runs
        elif (
            kind == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in RETURN_KEYS
            and obj is QApplication.focusWidget()
            and isinstance(obj, QWidget)
            and obj.window() is self.window
            and obj is not self.canvas
        ):
            # after the control has handled the key (committed the number, closed the edit)
            QTimer.singleShot(0, self._focus_canvas)
        return False

    def _focus_canvas(self) -> None:
        if QApplication.activeModalWidget() is None and QApplication.activePopupWidget() is None:
            self.canvas.setFocus(Qt.FocusReason.OtherFocusReason)
