"""The Qt binding itself: calls must not leak references to None/True/False.

PySide6 6.12.0 on Python 3.11 drops a reference to ``None`` on every call of a method
returning void (and to ``True``/``False`` for bool returns); after a few thousand
calls -- seconds of painting -- the interpreter aborts with "deallocating None".
constraints.txt pins 6.11.3 for that reason; this test fails if a broken build returns.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="None, True and False are immortal from Python 3.12"
)


class _Emitter(QObject):
    fired = Signal(object)


def test_void_and_bool_calls_keep_singleton_refcounts(qapp):
    label = QLabel()
    timer = QTimer()
    emitter = _Emitter()
    emitter.fired.connect(lambda _v: None)
    calls = 500
    before = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    for _ in range(calls):
        label.setText("x")  # void
        label.update()  # void
        timer.start(10_000)  # void
        emitter.fired.emit(1)  # bool
        qapp.processEvents()  # void
    timer.stop()
    after = (sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False))
    # A leak loses one reference per call: thousands here; unrelated noise is a handful.
    for b, a in zip(before, after, strict=True):
        assert b - a < calls // 10
