"""Faces in the window: background landmarks, the Zones layer and the Measurements dock.

When an image opens, its stored face (``PROJECT/faces/<id>.json``) is read, or the face is
detected, on a worker thread (never on the GUI thread); a detected face is saved through
the session's writer. The Face dock shows the state (found / none / several / profile /
placed by hand / dlib missing), the Zones layer controls (show, opacity, labels) and the
manual fallback: *Place face…* then three clicks (subject's right eye, left eye, nose base)
or *Detect again*. The Measurements table measures the open document's GT per zone on a
worker, again after each edit. docs/faces.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.face.measure import MEASURES, measure_titles
from core.face.zones import ZONE_TITLES, ZONES

from .workers import run_function
from .zones_layer import ZonesLayer

if TYPE_CHECKING:
    from collections.abc import Callable

    from .canvas import ImageCanvas
    from .documents import LoadedDocument
    from .face_import import FaceQueue
    from .parts import Frame, Notifier
    from .session import AnnotationSession

PLACE_STEPS = ("the subject's right eye (image left)", "the left eye", "the base of the nose")
MEASURE_DELAY_MS = 400
#: Narrow column titles for the dock (the full title is the tooltip).
SHORT_TITLES = {
    "wrinkle_area_pct": "Wrinkle %",
    "wrinkle_length": "Length {unit}",
    "wrinkle_width": "Width {unit}",
    "wrinkle_depth": "Depth",
    "pore_count": "Pores",
    "pore_density": "Density",
    "pore_area": "Pore {area}",
}
STATE_TEXT = {
    "found": "Face found",
    "none": "No face found",
    "several": "Several faces",
    "profile": "Profile view",
    "manual": "Face placed by hand",
}


def find_face(project: Any, record: Any, image: np.ndarray, *, detect: bool = True) -> tuple[Any, bool, str]:  # fmt: skip
    """(FaceResult | None, newly detected, error) for an image (worker thread)."""
    from core.errors import SkinTraceError
    from core.face.landmarks import detect_faces
    from core.face.store import load_face

    try:
        stored = load_face(project.root, record.id, content_hash=record.content_hash)
    except SkinTraceError as exc:
        stored, error = None, str(exc)
    else:
        error = ""
    if stored is not None or not detect:
        return stored, False, error
    try:
        return detect_faces(image), True, ""
    except SkinTraceError as exc:
        return None, False, str(exc)


class FaceController(QObject):
    """Finds, stores and shows the open image's face; measures its zones."""

    #: (image id, FaceResult | None) the open image's face is known (or known to be absent).
    faceChanged = Signal(object, object)
    #: (image id, list[ZoneMeasurement]) measurements of the open image are ready.
    measured = Signal(object, object)
    #: (internal) a document change asks for a new measurement; queued to the GUI thread
    #: when the change comes from a worker (texture maps, parameters of a large image).
    _changed = Signal()

    def __init__(
        self, canvas: ImageCanvas, notifier: Notifier, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.notifier = notifier
        self.session: Any = None  # set while a project is open (see attach)
        self.image_id: Any = None
        self.result: Any = None
        self.error = ""
        self.detect = True  # tests and the benchmark may turn detection off
        self.scale: Any = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        # Below the pre-label and document workers: the face can wait, they should not.
        self.pool.setThreadPriority(QThread.Priority.LowPriority)
        self._generation = 0
        self._placing: list[tuple[float, float]] | None = None
        self.editing = False  # "Move points": the face points can be dragged
        self._drag: tuple[int, list[tuple[float, float]]] | None = None
        self.layer = ZonesLayer()
        canvas.scene().addItem(self.layer)
        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self.measure)
        self._changed.connect(self._schedule_measure)
        self._doc_unsubscribe: Any = None
        canvas.viewport().installEventFilter(self)
        canvas.installEventFilter(self)

    # -- session / images ----------------------------------------------------------

    def attach(self, session: AnnotationSession | None) -> None:
        self._generation += 1  # results for the previous session are dropped
        self.session = session
        self.image_id, self.result = None, None
        self.cancel_placing()
        self.layer.set_face(None, None)
        if self._doc_unsubscribe is not None:
            self._doc_unsubscribe()
            self._doc_unsubscribe = None
        if session is None:
            # closing: let a detection under way finish (it only reads) before the project goes
            self.pool.waitForDone(10_000)
            return
        from core.face.store import SCALE_SETTING, Scale

        try:
            self.scale = Scale.from_dict(session.project.get_setting(SCALE_SETTING))
        except Exception:  # a bad stored scale: report in pixels
            self.scale = Scale()
        session.documentOpened.connect(self.on_document_opened)
        current = session.current
        if session.document is not None and current is not None:
            self.on_document_opened(current)

    def on_document_opened(self, loaded: LoadedDocument) -> None:
        self._generation += 1
        gen = self._generation
        self.image_id, self.result, self.error = loaded.image_id, None, ""
        self.cancel_placing()
        self.layer.set_face(None, None)
        if self._doc_unsubscribe is not None:
            self._doc_unsubscribe()
        self._doc_unsubscribe = loaded.document.subscribe(lambda _c: self._changed.emit())
        self.faceChanged.emit(self.image_id, None)
        project, record, image, detect = self.session.project, loaded.record, loaded.document.image, self.detect  # fmt: skip
        self._run(lambda: find_face(project, record, image, detect=detect), lambda r: self._found(gen, loaded, r))  # fmt: skip

    def _run(self, fn: Callable[[], object], done: Callable[[Any], None]) -> None:
        run_function(fn, on_done=done, on_error=self.notifier.report, pool=self.pool)

    def _found(self, gen: int, loaded: LoadedDocument, found: tuple[Any, bool, str]) -> None:
        if gen != self._generation or self.session is None:
            return  # another image was opened meanwhile
        result, new, error = found
        self.error = error
        self._set_result(loaded.image_id, result, save=new)

    def _set_result(self, image_id: int, result: Any, *, save: bool) -> None:
        self.result = result
        doc = self.session.document if self.session is not None else None
        shape = None if doc is None else doc.shape
        self.layer.set_face(None if result is None else result.face, shape)
        if save and result is not None and not self.session.read_only:
            from core.face.store import save_face

            root, record = self.session.project.root, self.session.project.image(image_id)
            self.session.writer.submit(("face", image_id), lambda: save_face(root, image_id, result, content_hash=record.content_hash))  # fmt: skip
        self.faceChanged.emit(image_id, result)
        self._schedule_measure(0)

    def detect_again(self) -> None:
        """Forget the stored face of the open image and detect it again."""
        if self.session is None or self.session.current is None:
            return
        from core.face.store import delete_face

        if not self.session.read_only:
            delete_face(self.session.project.root, self.image_id)
        self.on_document_opened(self.session.current)

    # -- manual fallback ---------------------------------------------------------

    def start_placing(self) -> None:
        """Next three clicks on the image place the face (Esc cancels)."""
        if self.session is None or self.session.document is None:
            return
        self._placing = []
        self.notifier.show(f"Place the face: click {PLACE_STEPS[0]} (Esc cancels)")

    def cancel_placing(self) -> None:
        if self._placing is not None:
            self._placing = None
            self.notifier.show("Face placement cancelled", 3000)

    @property
    def placing(self) -> bool:
        return self._placing is not None

    def place_point(self, row: float, col: float) -> None:
        if self._placing is None:
            return
        self._placing.append((row, col))
        if len(self._placing) < 3:
            self.notifier.show(f"Place the face: click {PLACE_STEPS[len(self._placing)]} (Esc cancels)")  # fmt: skip
            return
        from core.errors import SkinTraceError
        from core.face.landmarks import face_from_points, manual_result

        points, self._placing = self._placing, None
        try:
            face = face_from_points(*points)
        except SkinTraceError as exc:
            self.notifier.report(str(exc))
            return
        shape = self.session.document.shape
        self._set_result(self.image_id, manual_result(face, shape), save=True)
        self.notifier.show("Face placed by hand; zones recomputed", 4000)

    def set_editing(self, on: bool) -> None:
        """Show the face points as handles that can be dragged (zones follow on release)."""
        self.editing = bool(on)
        self._drag = None
        self.layer.show_handles = self.editing
        self.layer.apply_style()

    def _points(self) -> list[tuple[float, float]] | None:
        face = None if self.result is None else self.result.face
        return None if face is None else [face.right_eye, face.left_eye, face.nose]

    def _edit_event(self, event: Any) -> bool:
        """Drag a face point while editing; True when the event was used."""
        canvas = self.canvas
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            points = self._points()
            if points is None:
                return False
            pos = event.position()
            for i, (r, c) in enumerate(points):
                p = canvas.image_to_view(r, c)
                if abs(p.x() - pos.x()) <= 8 and abs(p.y() - pos.y()) <= 8:
                    self._drag = (i, points)
                    return True
            return False
        if self._drag is None:
            return False
        i, points = self._drag
        row, col = canvas.view_to_image(event.position())
        points = [*points[:i], (row, col), *points[i + 1 :]]
        self._drag = (i, points)
        from core.errors import SkinTraceError
        from core.face.landmarks import face_from_points, manual_result

        try:
            face = face_from_points(*points)
        except SkinTraceError:
            return True  # the eyes on top of each other mid-drag: wait for a better spot
        shape = self.session.document.shape
        if kind == QEvent.Type.MouseMove:
            self.layer.set_face(face, shape)
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            self._drag = None
            self._set_result(self.image_id, manual_result(face, shape), save=True)
            self.notifier.show("Face point moved; zones recomputed", 4000)
            return True
        return False

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802
        mouse = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease)  # fmt: skip
        if (
            self._placing is None
            and self.editing
            and obj is self.canvas.viewport()
            and event.type() in mouse
            and self.session is not None
            and self.session.document is not None
        ):
            return self._edit_event(event)
        if self._placing is None:
            return False
        if event.type() == QEvent.Type.MouseButtonPress and obj is self.canvas.viewport():
            assert isinstance(event, QMouseEvent)
            if event.button() == Qt.MouseButton.LeftButton:
                row, col = self.canvas.view_to_image(event.position())
                self.place_point(row, col)
                return True
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Escape:
                self.cancel_placing()
                return True
        return False

    # -- measurements ------------------------------------------------------------

    def set_scale(self, scale: Any) -> None:
        self.scale = scale
        if self.session is not None and not self.session.read_only:
            from core.face.store import SCALE_SETTING

            project, value = self.session.project, scale.to_dict()
            self.session.writer.submit(("setting", SCALE_SETTING), lambda: project.set_setting(SCALE_SETTING, value))  # fmt: skip
        self._schedule_measure(0)

    def prior_on(self) -> bool:
        """Whether the project's zone prior for pre-labels is on (off by default)."""
        from core.face.prior import prior_enabled

        return self.session is not None and prior_enabled(self.session.project)

    def set_prior(self, on: bool) -> None:
        """Turn the zone prior for new pre-labels on or off (project setting)."""
        if self.session is None or self.session.read_only:
            return
        from core.face.prior import PRIOR_SETTING

        project = self.session.project
        self.session.writer.submit(("setting", PRIOR_SETTING), lambda: project.set_setting(PRIOR_SETTING, bool(on)))  # fmt: skip

    def _schedule_measure(self, delay: int = MEASURE_DELAY_MS) -> None:
        self._measure_timer.start(delay)

    def measure(self) -> None:
        """Measure the open document's GT per zone on the worker."""
        doc = self.session.document if self.session is not None else None
        if doc is None:
            return
        from core.face.measure import measure_image
        from core.face.report import WHOLE
        from core.face.store import Scale
        from core.face.zones import zone_masks

        face = None if self.result is None else self.result.face
        maps = {cls: doc.gt(cls).copy() for cls in ("wrinkle", "pore")}
        ppm = (self.scale or Scale()).for_face(face)
        image_id, gen = self.image_id, self._generation

        def job() -> Any:
            zones = zone_masks(face, maps["wrinkle"].shape) if face is not None else {}
            zones[WHOLE] = np.ones(maps["wrinkle"].shape, dtype=bool)
            return measure_image(maps, zones, px_per_mm=ppm)

        def done(rows: Any) -> None:
            if gen == self._generation and self.session is not None:
                self.measured.emit(image_id, rows)

        self._run(job, done)


class FacePanel(QWidget):
    """The Face dock: state, manual fallback, Zones layer controls, measurements."""

    def __init__(self, controller: FaceController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        self.state = QLabel("No image")
        self.state.setObjectName("face_state")
        self.state.setWordWrap(True)
        box.addWidget(self.state)
        row = QHBoxLayout()
        self.place_button = QPushButton("Place face…")
        self.place_button.setToolTip(
            "Click the subject's right eye, left eye and nose base (Shift+F)"
        )
        self.place_button.clicked.connect(controller.start_placing)
        self.detect_button = QPushButton("Detect again")
        self.detect_button.setToolTip("Find the face and its zones again on this image")
        self.detect_button.clicked.connect(controller.detect_again)
        self.move_button = QPushButton("Move points")
        self.move_button.setCheckable(True)
        self.move_button.setToolTip("Drag the eye and nose points; the zones follow")
        self.move_button.toggled.connect(controller.set_editing)
        row.addWidget(self.place_button)
        row.addWidget(self.move_button)
        row.addWidget(self.detect_button)
        box.addLayout(row)
        row = QHBoxLayout()
        self.show_zones = QCheckBox("Zones")
        self.show_zones.setToolTip("Draw the face zones over the image")
        self.show_zones.setChecked(True)
        self.show_zones.toggled.connect(controller.layer.setVisible)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(controller.layer.opacity_value * 100))
        self.opacity.setToolTip("Zones opacity")
        self.opacity.valueChanged.connect(self._on_opacity)
        self.labels = QCheckBox("Labels")
        self.labels.setToolTip("Write each zone's name over it")
        self.labels.setChecked(True)
        self.labels.toggled.connect(self._on_labels)
        row.addWidget(self.show_zones)
        row.addWidget(self.opacity, 1)
        row.addWidget(self.labels)
        box.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Scale"))
        self.scale_edit = QLineEdit()
        self.scale_edit.setPlaceholderText("pixels (or 63mm, 12.5px/mm)")
        self.scale_edit.setToolTip("Interocular distance ('63mm') or pixels per mm ('12.5px/mm'); empty: pixels")  # fmt: skip
        self.scale_edit.editingFinished.connect(self._on_scale)
        row.addWidget(self.scale_edit, 1)
        box.addLayout(row)
        self.prior = QCheckBox("Zone prior for pre-labels")
        self.prior.setToolTip("New pre-labels drop pores outside the butterfly zone and nose, and wrinkles outside their zones")  # fmt: skip
        self.prior.toggled.connect(controller.set_prior)
        box.addWidget(self.prior)
        self.table = QTableWidget(0, len(MEASURES))
        self.table.setObjectName("measurements")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        box.addWidget(self.table, 1)
        controller.faceChanged.connect(self._on_face)
        controller.measured.connect(self._on_measured)

    def _on_opacity(self, v: int) -> None:
        self.controller.layer.opacity_value = v / 100
        self.controller.layer.apply_style()

    def _on_labels(self, on: bool) -> None:
        self.controller.layer.show_labels = on
        self.controller.layer.apply_style()

    def _on_scale(self) -> None:
        from core.errors import SkinTraceError
        from core.face.store import Scale, parse_scale

        text = self.scale_edit.text().strip()
        try:
            scale = parse_scale(text) if text else Scale()
        except SkinTraceError as exc:
            self.controller.notifier.report(str(exc))
            return
        self.controller.set_scale(scale)

    def _on_face(self, _image_id: int, result: Any) -> None:
        c = self.controller
        if result is None:
            self.state.setText(c.error or ("Finding the face…" if c.detect else "No face stored: place it by hand"))  # fmt: skip
        else:
            self.state.setText(f"{STATE_TEXT.get(result.state, result.state)}: {result.message}")
        writable = c.session is not None and not c.session.read_only
        self.detect_button.setEnabled(writable)
        self.prior.setEnabled(writable)
        self.prior.blockSignals(True)
        self.prior.setChecked(c.prior_on())
        self.prior.blockSignals(False)

    def _on_measured(self, _image_id: int, rows: Any) -> None:
        unit = rows[0].unit if rows else "px"
        titles = measure_titles(unit)
        self.table.setColumnCount(len(titles))
        for j, key in enumerate(titles):
            header = QTableWidgetItem(SHORT_TITLES[key].format(unit=unit, area="mm²" if unit == "mm" else "px²"))  # fmt: skip
            header.setToolTip(titles[key])
            self.table.setHorizontalHeaderItem(j, header)
        self.table.setRowCount(len(rows))
        names = {**ZONE_TITLES, "whole_image": "Whole image"}
        self.table.setVerticalHeaderLabels([names.get(r.zone, r.zone) for r in rows])
        for i, r in enumerate(rows):
            d = r.to_dict()
            for j, key in enumerate(titles):
                v = d[key]
                text = "–" if isinstance(v, float) and np.isnan(v) else (str(v) if isinstance(v, int) else f"{v:.3g}")  # fmt: skip
                self.table.setItem(i, j, QTableWidgetItem(text))


def install(frame: Frame) -> tuple[FaceController, FacePanel, FaceQueue]:
    """Build the Face dock (Zones layer + Measurements), its Image menu actions and the
    queue finding the faces of imported images in the background."""
    from .face_import import FaceQueue

    controller = FaceController(frame.canvas, frame.notifier, frame.window)
    panel = FacePanel(controller)
    frame.add_tabbed_dock("Face && measurements", panel, "faces", beside="layers")
    reg = frame.registry
    menu = frame.menus.image
    menu.addSeparator()
    menu.addAction(
        reg.add("face_place", "Place &face by hand…", controller.start_placing, "Shift+F")
    )
    menu.addAction(reg.add("face_detect", "Detect face &again", controller.detect_again))
    menu.addAction(reg.add("zones_toggle", "Show &zones", panel.show_zones.toggle, "Z"))
    queue = FaceQueue(controller, frame.status, controller)
    frame.session_changed.connect(queue.cancel)  # before attach waits for the pool
    frame.session_changed.connect(controller.attach)
    controller.attach(None)
    return controller, panel, queue


__all__ = ["ZONES", "FaceController", "FacePanel", "ZonesLayer", "install"]
