"""Pre-labels in the window: computed ahead of the annotator, shown as the prediction layer.

:class:`PrelabelController` keeps one background job at a time on its own one-thread
pool (so image loading on the global pool is never starved): each job pre-labels the
most urgent image of a fresh plan (:func:`core.assist.prelabel.plan_prelabels`: the open image
if it needs one, then the next ones in the annotator's order), then the next job is
planned again, so opening another image re-prioritises at once. Pre-labels are saved
through the session's single writer. "Pre-annotate all" runs the whole plan as a batch
with a progress dialog and cancel. The source (model or baselines) is shown in the
status bar, and "Use pre-label as rough masks" turns the shown pre-label into rough masks
through :meth:`AnnotationDocument.set_rough_many` (one undo step).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QLabel, QProgressDialog, QWidget

from core.classes import CLASSES

from ..workers import Job, ProgressWorker, on_failure, start

if TYPE_CHECKING:
    from core.assist.prelabel import PrelabelSource
    from core.progress import Progress
    from core.project import Project

    from ..documents import LoadedDocument
    from ..image_list import ImageList
    from ..layers import LayersModel
    from ..parts import Frame, Notifier
    from ..session import AnnotationSession
    from ..writer import SerialWriter

CACHE_SIZE = 24
ORDERS = ("file", "uncertainty")


def queue_store(
    writer: SerialWriter,
    project: Project,
    image_id: int,
    maps: dict[str, np.ndarray],
    source: str,
    score: float,
) -> None:
    """Queue the save of a pre-label and its uncertainty on the session's writer.

    The job returns the image's state read back from the catalog, which the session
    puts into its model when it is written.
    """
    from core.assist.prelabel import store_prelabel

    from ..project_model import read_state

    def job() -> Any:
        status = store_prelabel(project, image_id, maps, source, score)
        return read_state(project, image_id, status=status)

    writer.submit(("prelabel", image_id), job)


class PrelabelController(QObject):
    """Schedules, shows and applies pre-labels for one window."""

    #: (image id, source name) a pre-label is shown in the prediction layer.
    prelabelShown = Signal(object, str)
    #: (image id, source name) a pre-label was computed (its save is queued).
    prelabelReady = Signal(object, str)
    #: (Progress) a step of "Pre-annotate all".
    batchProgress = Signal(object)
    #: () the batch ended (done, cancelled or failed).
    batchFinished = Signal()

    def __init__(
        self, layers: LayersModel, image_list: ImageList, notifier: Notifier, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.layers = layers
        self.image_list = image_list
        self.notifier = notifier
        self._dialog_parent = parent
        self.session: AnnotationSession | None = None
        self.source: PrelabelSource | None = None
        #: Compute pre-labels ahead of the annotator (the benchmark turns it off).
        self.ahead = True
        #: Torch device for model pre-labels: "auto" uses CUDA when there is one.
        self.device = "auto"
        self.order_mode = "file"
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._cache: OrderedDict[int | None, tuple[dict[str, np.ndarray], str]] = OrderedDict()
        self._scores: dict[int, float] = {}
        self._attempted: set[int] = set()
        self._redo: list[int] = []  # images whose saved pre-label could not be read
        self._job: Job | None = None
        self._loading: Job | None = None
        self.batch: ProgressWorker | None = None
        self.dialog: QProgressDialog | None = None
        self._generation = 0
        self._predict_lock = threading.Lock()
        self._predict: tuple[str, Callable[[np.ndarray], dict[str, np.ndarray]]] | None = None
        self.source_label = QLabel("")
        self.source_label.setObjectName("prelabel_source")
        self._schedule_timer = QTimer(self)
        self._schedule_timer.setSingleShot(True)
        self._schedule_timer.setInterval(0)
        self._schedule_timer.timeout.connect(self.schedule)

    # -- session -------------------------------------------------------------------

    def attach(self, session: AnnotationSession | None) -> None:
        """Follow ``session`` (None detaches)."""
        self.detach()
        self.session = session
        if session is None:
            return
        session.documentOpened.connect(self._on_document_opened)
        self.refresh_source()
        if session.current is not None:
            self._on_document_opened(session.current)

    def detach(self) -> None:
        session, self.session = self.session, None
        self._generation += 1
        self.cancel_batch()
        if session is not None:
            session.documentOpened.disconnect(self._on_document_opened)
        self._cache.clear()
        self._scores.clear()
        self._attempted.clear()
        self._redo.clear()
        self._job = None
        self.source = None
        self.source_label.setText("")

    def refresh_source(self) -> None:
        """Re-read the project's source (after training or a rollback) and re-plan."""
        from core.assist.prelabel import source_for

        if self.session is None:
            return
        source = source_for(self.session.project)
        if self.source is not None and source == self.source:
            return
        self.source = source
        self._generation += 1
        self._attempted.clear()
        self._scores.clear()
        self._job = None
        self._update_label(None)
        self.schedule_soon()

    # -- showing -----------------------------------------------------------------

    def current_id(self) -> int | None:
        s = self.session
        return None if s is None or s.current is None else s.current.image_id

    def _on_document_opened(self, loaded: LoadedDocument) -> None:
        self.show_for(loaded.image_id)
        self.schedule_soon()

    def show_for(self, image_id: int) -> None:
        """Show ``image_id``'s pre-label: from memory, else loaded from the project."""
        layers = self.layers
        cached = self._cache.get(image_id)
        if cached is not None:
            self._display(image_id, *cached)
            return
        layers.set_prediction(None)
        self._update_label(None)
        session = self.session
        if session is None:
            return
        project = session.project
        generation = self._generation

        def done(result: Any) -> None:
            if result is None or generation != self._generation:
                return
            maps, source = result
            self._remember(image_id, maps, source)
            if self.current_id() == image_id:
                self._display(image_id, maps, source)

        def failed(message: str) -> None:  # a damaged or missing pre-label file
            if generation != self._generation or self.current_id() != image_id:
                return
            if session.read_only or self.source is None:
                self.notifier.show(f"The saved pre-label is unusable: {message}", 10000)
                return
            self.notifier.show(
                f"The saved pre-label is unusable ({message}); computing it again.", 10000
            )
            self._redo.append(image_id)
            self.schedule_soon()

        self._loading = Job(lambda: project.load_prelabel(image_id))
        self._loading.returned.connect(done)
        on_failure(self._loading, failed)
        start(self._loading)

    def _display(self, image_id: int, maps: dict[str, np.ndarray], source: str) -> None:
        from core.assist.prelabel import describe_source

        self.layers.set_prediction(maps)
        self._update_label(source)
        try:
            unstarted = self.image_list.status(image_id) in ("new", "prelabeled")
        except KeyError:  # not listed (yet)
            unstarted = False
        if unstarted:
            # (not over messages about started images, e.g. a reviewer's comment)
            self.notifier.show(f"Pre-label by {describe_source(source)}", 4000)
        self.prelabelShown.emit(image_id, source)

    def _update_label(self, shown: str | None) -> None:
        """Status bar: the active source, and the shown pre-label's when it differs."""
        from core.assist.prelabel import describe_source

        if self.source is None:
            self.source_label.setText("")
            return
        text = f"Pre-labels: {describe_source(self.source.name)}"
        if shown is not None and shown != self.source.name:
            text += f" (this one: {describe_source(shown)})"
        self.source_label.setText(text)

    def _remember(self, image_id: int, maps: dict[str, np.ndarray], source: str) -> None:
        self._cache[image_id] = (maps, source)
        self._cache.move_to_end(image_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, image_id: int) -> None:
        """Drop ``image_id``'s pre-label from memory and from view (it was rejected)."""
        self._cache.pop(image_id, None)
        self._scores.pop(image_id, None)
        if self.current_id() == image_id:
            self.layers.set_prediction(None)
            self._update_label(None)

    def shown_source(self) -> str | None:
        """Source name of the pre-label shown for the open image (None if none)."""
        entry = self._cache.get(self.current_id())
        return None if entry is None or self.layers.prediction() is None else entry[1]

    # -- background scheduling -------------------------------------------------

    def schedule_soon(self) -> None:
        self._schedule_timer.start()

    def annotator_order(self) -> list[int]:
        """Image ids in the order the annotator goes: file order or by uncertainty."""
        ids = [r.id for r in self.image_list.model.records]
        if self.order_mode != "uncertainty":
            return ids
        from core.assist.active import uncertainty_order

        return uncertainty_order(ids, self.scores(ids))

    def scores(self, ids: list[int]) -> dict[int, float]:
        """Uncertainty per image for the current source (memory, then the project)."""
        from core.assist.active import load_uncertainties

        missing = [i for i in ids if i not in self._scores]
        if missing and self.session is not None and self.source is not None:
            stored = load_uncertainties(self.session.project, missing, source=self.source.name)
            self._scores.update(stored)
        return {i: self._scores[i] for i in ids if i in self._scores}

    def pending(self) -> list[int]:
        """Images still to pre-label with the current source, most urgent first."""
        from core.assist.prelabel import plan_prelabels

        if self.session is None or self.source is None:
            return []
        plan = plan_prelabels(
            self.session.project,
            self.source,
            order=self.annotator_order(),
            current=self.current_id(),
        )
        return [i for i in plan if i not in self._attempted]

    def busy(self) -> bool:
        return self._job is not None or (self.batch is not None and not self.batch.ended)

    def schedule(self) -> None:
        """Start the next background pre-label unless one is running."""
        s = self.session
        if s is None or s.read_only or self.source is None or self.busy():
            return
        if not self.ahead:
            # on demand only: the open image, nothing ahead of it
            current = self.current_id()
            todo = [i for i in self.pending() if i == current]
        else:
            todo = self.pending()
        todo = self._redo + todo
        if not todo:
            return
        image_id = todo[0]
        if self._redo and self._redo[0] == image_id:
            self._redo.pop(0)
        source, project = self.source, s.project
        generation = self._generation
        job = Job(lambda: self._compute_one(project, image_id, source))
        job.returned.connect(lambda result: self._on_job_done(generation, image_id, result))
        on_failure(job, lambda message: self._on_job_failed(generation, image_id, message))
        self._job = job
        start(job, self.pool)

    def _predictor(self, source: PrelabelSource) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        """The prediction function of ``source``, built once (worker thread)."""
        from core.assist.prelabel import make_predictor

        with self._predict_lock:
            if self._predict is None or self._predict[0] != source.name:
                predict = make_predictor(source, device=self.device, threads=1)
                self._predict = (source.name, predict)
            return self._predict[1]

    def _compute_one(self, project: Any, image_id: int, source: PrelabelSource) -> dict[str, Any]:
        """Pre-label one image (worker thread); returns the last per-image Progress info."""
        from core.assist.prelabel import prelabel_images

        info: dict[str, Any] = {}
        steps = prelabel_images(
            project,
            [image_id],
            source=source,
            predict=self._predictor(source),
            save=lambda *_args: None,  # saved through the writer on the GUI thread
        )
        for step in steps:
            if step.info.get("image_id") == image_id:
                info = step.info
        return info

    def _on_job_done(self, generation: int, image_id: int, info: dict[str, Any]) -> None:
        if generation != self._generation:
            return
        self._job = None
        self._attempted.add(image_id)
        if "error" in info:
            self.notifier.show(f"Pre-label failed: {info['error']}", 8000)
        elif "maps" in info:
            self._accept_result(image_id, info)
        self.schedule_soon()

    def _on_job_failed(self, generation: int, image_id: int, message: str) -> None:
        if generation != self._generation:
            return
        self._job = None
        self._attempted.add(image_id)
        self.notifier.report(f"pre-labels stopped: {message}")

    def _accept_result(self, image_id: int, info: dict[str, Any]) -> None:
        """Cache, queue the save and show if open (GUI thread)."""
        maps, source, score = info["maps"], info["source"], float(info["uncertainty"])
        self._remember(image_id, maps, source)
        self._scores[image_id] = score
        session = self.session
        if session is not None and not session.read_only:
            queue_store(session.writer, session.project, image_id, maps, source, score)
        if self.current_id() == image_id:
            self._display(image_id, maps, source)
        self.prelabelReady.emit(image_id, source)

    # -- batch -------------------------------------------------------------------

    def pre_annotate_all(self) -> ProgressWorker | None:
        """Pre-label every image that needs it, with a progress dialog and cancel."""
        from core.assist.prelabel import prelabel_images

        s = self.session
        if s is None or self.source is None:
            return None
        if s.read_only:
            self.notifier.report("the project is open read-only; pre-labels cannot be saved")
            return None
        if self.batch is not None and not self.batch.ended:
            return self.batch
        self._generation += 1  # a running single job's result is dropped; the batch redoes it
        self._job = None
        plan = self.pending()
        if not plan:
            self.notifier.show("Every image that needs a pre-label has one.", 5000)
            return None
        source, project, writer = self.source, s.project, s.writer

        def save(image_id: int, maps: Any, name: str, score: float) -> None:
            queue_store(writer, project, image_id, maps, name, score)

        def make() -> Any:
            return prelabel_images(
                project, plan, source=source, predict=self._predictor(source), save=save
            )

        worker = ProgressWorker(make)
        generation = self._generation
        worker.yielded.connect(lambda p: self._on_batch_step(generation, p))
        worker.finished.connect(self._on_batch_end)  # after the others: ``ended`` is set
        on_failure(worker, self.notifier.report)
        worker.returned.connect(self._report_batch)
        worker.aborted.connect(self._batch_cancelled)
        self.batch = worker
        self.dialog = QProgressDialog(
            "Pre-annotating…", "Cancel", 0, len(plan), self._dialog_parent
        )
        self.dialog.setWindowTitle("Pre-annotate all")
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self.cancel_batch)
        self.dialog.show()
        return start(worker, self.pool)

    def _batch_cancelled(self, *_: object) -> None:
        self.notifier.show("Pre-annotation cancelled; the pre-labels made so far are kept.", 10000)

    def _on_batch_step(self, generation: int, progress: Progress) -> None:
        if generation != self._generation:
            return
        info = progress.info
        image_id = info.get("image_id")
        if image_id is not None:
            self._attempted.add(image_id)
            if "maps" in info:
                self._remember(image_id, info["maps"], info["source"])
                self._scores[image_id] = float(info["uncertainty"])
                if self.current_id() == image_id:
                    self._display(image_id, info["maps"], info["source"])
                self.prelabelReady.emit(image_id, info["source"])
        if self.dialog is not None:
            self.dialog.setValue(progress.done)
            self.dialog.setLabelText(f"Pre-annotating… {progress.message}")
        self.batchProgress.emit(progress)

    def _report_batch(self, last: Any) -> None:
        summary = (getattr(last, "info", None) or {}).get("summary") or {}
        counts = ", ".join(
            f"{summary[k]} {k}" for k in ("done", "skipped", "failed") if k in summary
        )
        self.notifier.show(f"Pre-annotate all finished: {counts}.", 10000)

    def _on_batch_end(self, *_args: Any) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None
        self.batchFinished.emit()
        self.schedule_soon()

    def cancel_batch(self) -> None:
        if self.batch is not None and not self.batch.ended:
            self.batch.cancel()

    # -- applying ----------------------------------------------------------------

    def use_as_rough(self) -> bool:
        """Turn the shown pre-label into rough masks (added to what is painted; undoable)."""
        from core.assist.prelabel import mask_levels, prelabel_to_rough, source_from_name

        s = self.session
        maps = self.layers.prediction()
        source = self.shown_source()
        if s is None or s.document is None:
            return False
        if s.read_only:
            self.notifier.report("the project is open read-only; rough masks cannot change")
            return False
        if maps is None or source is None:
            self.notifier.show("This image has no pre-label yet.", 5000)
            return False
        rough = prelabel_to_rough(maps, mask_levels(source_from_name(source)))
        doc = s.document
        # One undo step for every class (Ctrl+Z takes the whole pre-label back).
        doc.set_rough_many({cls: rough[cls] | doc.rough(cls) for cls in CLASSES}, label="pre-label")
        self.notifier.show("Pre-label turned into rough masks (Ctrl+Z undoes).", 5000)
        return True

    def set_order(self, mode: str) -> None:
        if mode not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, not {mode!r}")
        self.order_mode = mode
        self.schedule_soon()

    def next_target(self, current: int | None) -> int | None:
        """The next image to annotate: next unfinished in file order or most uncertain."""
        model = self.image_list.model  # the session's ProjectModel
        if self.order_mode != "uncertainty":
            return model.next_unfinished(current)
        return model.next_unfinished(current, order=self.annotator_order())


def install(frame: Frame) -> PrelabelController:
    """Build the pre-labels controller: Model menu actions, source label, session hook."""
    controller = PrelabelController(frame.layers, frame.image_list, frame.notifier, frame.window)
    frame.status.addPermanentWidget(controller.source_label)
    reg = frame.registry
    menu = frame.menus.model
    menu.addAction(
        reg.add(
            "prelabel_all",
            "Pre-&annotate all",
            controller.pre_annotate_all,
            "Ctrl+Shift+A",
            tip="Pre-label every new image now, with a progress bar",
        )
    )
    menu.addAction(
        reg.add(
            "prelabel_to_rough",
            "Use pre-label as &rough masks",
            controller.use_as_rough,
            "Ctrl+P",
            tip="Turn the shown pre-label into editable rough masks",
        )
    )
    order = reg.add(
        "order_uncertainty",
        "Order next by model &uncertainty",
        lambda on: controller.set_order("uncertainty" if on else "file"),
        checkable=True,
        tip="Next opens the unfinished image the model is least sure about",
    )
    menu.addAction(order)
    menu.addSeparator()
    frame.session_changed.connect(controller.attach)
    return controller
