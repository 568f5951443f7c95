"""The annotation session: one open project, the open document, saving and statuses.

Everything that changes the project on disk goes through :class:`AnnotationSession`
and its single :class:`~app.gui.writer.SerialWriter`: rough-mask autosaves, status
changes (:meth:`AnnotationSession.set_status` is the one place statuses change) and
GT parameter edits. What the writes leave in the catalog is read back on the writer and
fed into :attr:`AnnotationSession.model` (:class:`~app.gui.project_model.ProjectModel`),
the window's one owner of image statuses; nothing is shown before it is written. Image loading and texture computation run in workers; the next
image is prefetched so that switching is instant.

A large image (over :data:`LARGE_IMAGE_PIXELS`) that is not prefetched opens in
stages, each shown as soon as it is there: :attr:`AnnotationSession.loading` (the
window shows the list thumbnail at once), :attr:`~AnnotationSession.previewReady` (a
reduced decode, JPEG only), :attr:`~AnnotationSession.documentOpened` with the texture
maps deferred (painting works from here on), then :attr:`~AnnotationSession.mapsProgress`
while the maps are computed in a worker and :attr:`~AnnotationSession.mapsReady`
when GT is filled in.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from .documents import LoadedDocument, load_document, load_preview, pixel_count, trim_heap
from .project_model import ProjectModel, read_state
from .resources import default_settings
from .workers import Job, ProgressWorker, on_failure, run_function, start

AUTOSAVE_MS = int(default_settings()["autosave_ms"])
CACHE_SIZE = 4  # documents kept after leaving them (with their undo history)
CACHE_PIXELS = 40_000_000  # ... and at most this many image pixels among them
PREFETCH_MAX_PIXELS = 12_000_000  # a 6000x4000 document takes ~0.6 GB: not prefetched
LARGE_IMAGE_PIXELS = 2_000_000  # above this: maps deferred to a worker, GT edits too


@dataclass(frozen=True)
class _PendingSave:
    """A rough-mask save on the writer: which state of which document, and its comment."""

    document: Any
    revision: int
    comment: str
    seq: int


class AnnotationSession(QObject):
    """Owns the project, the open document, the document cache and the writer."""

    #: (LoadedDocument) a new document is shown.
    documentOpened = Signal(object)
    #: (image id, status value) after a status change reached the catalog (and the model).
    statusChanged = Signal(object, str)
    #: (one-line message) something failed; the window keeps working.
    error = Signal(str)
    #: (text) "saved", "saving…", "unsaved changes".
    saveStateChanged = Signal(str)
    #: (bool) an image is being loaded / parameters recomputed.
    busyChanged = Signal(bool)
    #: (core.progress.Progress) a step of a long recomputation while busy.
    busyProgress = Signal(object)
    #: (image id) opening this image failed (the previous one stays open).
    loadFailed = Signal(object)
    #: (record) a large image not in memory started loading (show its thumbnail).
    loading = Signal(object)
    #: (image id, (m, n, 3) uint8 ndarray) a reduced decode of the image being loaded.
    previewReady = Signal(object, object)
    #: (core.progress.Progress) the open image's texture maps are being computed;
    #: painting stays on meanwhile.
    mapsProgress = Signal(object)
    #: (image id) the open image's texture maps and GT are ready.
    mapsReady = Signal(object)

    def __init__(self, project: Any, parent: QObject | None = None) -> None:
        from .writer import SerialWriter

        super().__init__(parent)
        self.project = project
        self.read_only = bool(getattr(project, "read_only", False))
        self.writer = SerialWriter(self)
        self.writer.written.connect(self._on_written)
        self.writer.failed.connect(self._on_write_failed)
        #: The images and their statuses as the catalog reports them (the one owner).
        self.model = ProjectModel(self)
        self.current: LoadedDocument | None = None
        self._cache: OrderedDict[Any, LoadedDocument] = OrderedDict()
        self._prefetching: dict[Any, Job] = {}
        self._params_worker: ProgressWorker | None = None
        self._params_doc: Any = None  # the document the running recomputation changes
        self._maps_worker: ProgressWorker | None = None
        self._pending_params: tuple[Any, Any] | None = None  # (document, params)
        self._load_token = 0
        self._pending_saves: dict[Any, _PendingSave] = {}  # the latest save queued per image
        self._dirty: set[Any] = set()  # images whose rough masks changed since saved
        self._overrides: dict[Any, bool] = {}
        self._seq = itertools.count()
        self._unsubscribe: Callable[[], None] | None = None
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.save_current)
        self._closed = False

    # -- records -------------------------------------------------------------------

    def records(self) -> list[Any]:
        """The catalog's image records, also loaded into :attr:`model`."""
        records = self.project.images()
        for r in records:
            self._overrides.setdefault(r.id, bool(getattr(r, "has_params_override", False)))
        changed = self.model.set_records(records, self.project.prelabel_sources())
        for image_id, value in changed:  # moved outside this window's writes
            self.statusChanged.emit(image_id, value)
        return records

    def _pixels(self, image_id: Any) -> int:
        row = self.model.row_of(image_id)
        return (
            0 if row is None else int(self.model.records[row].rows * self.model.records[row].cols)
        )

    def has_override(self, image_id: Any) -> bool:
        return self._overrides.get(image_id, False)

    @property
    def document(self) -> Any:
        return None if self.current is None else self.current.document

    # -- opening images ----------------------------------------------------------

    def open_image(self, image_id: Any, *, wait: bool = False, reload: bool = False) -> None:
        """Show ``image_id``: from the cache, a prefetch, or a background load.

        With ``wait`` the load runs on the calling thread (used by benchmarks and at
        start-up); errors are reported through :attr:`error` either way. With ``reload``
        the open image is read from disk again (the old document stays shown meanwhile).
        """
        if not reload and self.current is not None and self.current.image_id == image_id:
            return
        self.save_current()
        self._load_token += 1
        token = self._load_token
        ready = self._cache.pop(image_id, None)
        prefetch = self._prefetching.pop(image_id, None)
        if prefetch is not None and prefetch.ended:
            # A failed prefetch (no result) is loaded again below and reports its error.
            ready, prefetch = ready or prefetch.result, None
        if ready is not None:
            self._show(ready)
            return
        # A large image is shown before its texture maps exist (they follow in a worker).
        big = self._pixels(image_id) > LARGE_IMAGE_PIXELS
        if wait:
            try:
                self._show(load_document(self.project, image_id, defer_textures=big))
            except Exception as exc:
                self._report_load_error(image_id, exc)
            return
        self.busyChanged.emit(True)
        if big and prefetch is None:
            self._start_preview(image_id, token)

        def done(loaded: LoadedDocument) -> None:
            if token == self._load_token and not self._closed:
                self.busyChanged.emit(False)
                self._show(loaded)

        def failed(message: str) -> None:
            if token == self._load_token and not self._closed:
                self.busyChanged.emit(False)
                self.loadFailed.emit(image_id)
                self.error.emit(message)

        if prefetch is not None:
            # Its prefetch is still loading: wait for it rather than load the image twice.
            prefetch.then(done, failed)
            return
        run_function(
            lambda: load_document(self.project, image_id, defer_textures=big),
            on_done=done,
            on_error=failed,
        )

    def _start_preview(self, image_id: Any, token: int) -> None:
        """Announce the load (thumbnail) and decode a reduced preview when the format allows."""
        try:
            record = self.project.image(image_id)
        except Exception:
            return  # the load itself reports the problem
        self.loading.emit(record)

        def shown(preview: Any) -> None:
            if preview is not None and token == self._load_token and not self._closed:
                self.previewReady.emit(image_id, preview)

        run_function(lambda: load_preview(record.path), on_done=shown, on_error=lambda _m: None)

    def _report_load_error(self, image_id: Any, exc: Exception) -> None:
        from .workers import describe_error

        self.loadFailed.emit(image_id)
        self.error.emit(describe_error(exc))

    def _show(self, loaded: LoadedDocument) -> None:
        if self.current is not None and self.current.image_id != loaded.image_id:
            self._remember(self.current)
        if self._unsubscribe is not None:
            self._unsubscribe()
        effective = self.project.params(loaded.image_id)
        if loaded.document.params != effective:
            loaded.document.set_params(effective)
        self.current = loaded
        self._unsubscribe = loaded.document.subscribe(self._on_document_change)
        self.documentOpened.emit(loaded)
        self._emit_save_state()
        self._start_maps(loaded)

    def _start_maps(self, loaded: LoadedDocument) -> None:
        """Compute the open document's deferred texture maps in a worker (one at a time)."""
        if self._maps_worker is not None and not self._maps_worker.ended:
            self._maps_worker.cancel()  # the image left before its maps were done
        self._maps_worker = None
        doc = loaded.document
        if doc.textures_ready or self._closed:
            return
        trim_heap()  # what the decode left behind
        worker = ProgressWorker(doc.compute_textures_steps)

        def progress(step: Any) -> None:
            if self.current is loaded:
                self.mapsProgress.emit(step)

        def done(_last: Any) -> None:
            trim_heap()
            if self.current is loaded and not self._closed and doc.textures_ready:
                self.mapsReady.emit(loaded.image_id)

        def failed(message: str) -> None:
            if self.current is loaded and not self._closed:
                self.error.emit(message)

        worker.yielded.connect(progress)
        worker.returned.connect(done)
        on_failure(worker, failed)
        self._maps_worker = start(worker)

    @property
    def maps_pending(self) -> bool:
        """True while the open document's texture maps are being computed."""
        doc = self.document
        return doc is not None and not doc.textures_ready

    def _remember(self, loaded: LoadedDocument) -> None:
        self._cache[loaded.image_id] = loaded
        self._cache.move_to_end(loaded.image_id)
        # Evict the oldest documents beyond the budget, only once their masks are on disk.
        pixels = sum(pixel_count(v) for v in self._cache.values())
        for key in list(self._cache):
            if len(self._cache) <= CACHE_SIZE and pixels <= CACHE_PIXELS:
                break
            if key not in self._dirty and key not in self._pending_saves:
                pixels -= pixel_count(self._cache.pop(key))

    def prefetch(self, image_id: Any) -> None:
        """Load ``image_id`` in the background so a later :meth:`open_image` is instant."""
        if (
            image_id is None
            or image_id in self._cache
            or image_id in self._prefetching
            or (self.current is not None and self.current.image_id == image_id)
            or self._pixels(image_id) > PREFETCH_MAX_PIXELS
        ):
            return
        for key in [k for k, w in self._prefetching.items() if w.ended]:
            if len(self._prefetching) > 2:
                del self._prefetching[key]
        self._prefetching[image_id] = run_function(
            lambda: load_document(self.project, image_id), on_error=lambda _m: None
        )

    # -- annotation mode -----------------------------------------------------------

    def independent(self) -> bool:
        """Whether annotators open their own masks (project setting ``annotation.independent``)."""
        try:
            return bool(self.project.independent())
        except Exception:
            return False

    def set_independent(self, on: bool) -> None:
        """Store the independent-annotators setting (on the writer, after pending saves)
        and reopen the open image with the masks that mode gives."""
        if self.read_only:
            self.error.emit("the project is open read-only; its settings cannot change")
            return
        from core.project.annotators import SETTING_INDEPENDENT

        self.save_current()
        project = self.project
        self.writer.submit(
            ("mode", None, next(self._seq)),
            lambda: project.set_setting(SETTING_INDEPENDENT, bool(on)),
        )

    def reload_masks(self) -> None:
        """Reopen the open image from disk once its pending saves are written; cached
        and prefetched documents are dropped (they hold the other mode's masks)."""
        self.save_current()
        self.writer.submit(("mode", None, next(self._seq)), lambda: None)

    def _reopen(self) -> None:
        self._cache.clear()
        self._prefetching.clear()
        cur = self.current
        if cur is None or self._closed:
            return
        if cur.image_id in self._dirty or cur.image_id in self._pending_saves:
            self.reload_masks()  # painted meanwhile: save that first
            return
        self.open_image(cur.image_id, reload=True)

    # -- editing -----------------------------------------------------------------

    def _on_document_change(self, change: Any) -> None:
        if change.kind == "rough" and not self.read_only and self.current is not None:
            self._dirty.add(self.current.image_id)
            self._autosave.start()
            self.saveStateChanged.emit("unsaved changes")

    def clear_class(self, cls: str) -> None:
        if self.document is not None and not self.read_only:
            self.document.clear_class(cls)

    def undo(self) -> bool:
        return self.document is not None and not self.read_only and self.document.undo()

    def redo(self) -> bool:
        return self.document is not None and not self.read_only and self.document.redo()

    # -- saving ------------------------------------------------------------------

    def save_current(self, *, comment: str = "") -> None:
        """Queue a save of the open document's rough masks if they changed.

        ``comment`` goes to the history when the save starts the image (new or
        pre-labeled → in progress).
        """
        self._autosave.stop()
        if self.current is None or self.read_only:
            return
        doc = self.current.document
        image_id = self.current.image_id
        if image_id not in self._dirty:
            return  # parameters alone are stored by set_params, not with the masks
        pending = self._pending_saves.get(image_id)
        if pending is not None:
            if pending.document is doc and pending.revision == doc.revision and not comment:
                return  # these very masks are queued already
            # A queued save replaced by this one must not lose its comment (a reviewer's
            # "accepted model pre-label" on the move to in progress).
            comment = comment or pending.comment
        save = _PendingSave(doc, doc.revision, comment, next(self._seq))
        self._pending_saves[image_id] = save
        project = self.project

        loaded = self.current

        def job() -> Any:
            # The masks are copied here, not on the GUI thread (a 6000x4000 image's four
            # masks: ~100 MB); "exclude" is saved with them (core.project.exclusion).
            masks, revision = doc.snapshot()
            base = loaded.revisions  # a save over someone else's newer one is refused
            project.save_rough(image_id, masks, comment=comment, base_revisions=base)
            if base is not None:
                from core.project.team import revisions_after_save

                loaded.revisions = revisions_after_save(
                    project.db, image_id, base, user=project.user
                )
            return project.image(image_id).status, save.seq, revision

        self.writer.submit(("rough", image_id), job)
        self.saveStateChanged.emit("saving…")

    def forget_changes(self, image_id: Any) -> None:
        """Drop the unsaved changes of ``image_id`` (its save was refused as stale: the
        newer masks someone else saved win; the image is reopened with them)."""
        self._dirty.discard(image_id)
        self._pending_saves.pop(image_id, None)

    def set_status(
        self, image_id: Any, status: Any, *, comment: str = "", through: tuple[Any, ...] = ()
    ) -> None:
        """The one place statuses change: queued on the writer after pending saves.

        ``through``: statuses to pass first, each recorded with ``comment`` (those the
        image already reached are skipped), e.g. in progress → submitted → accepted.
        """
        if self.read_only:
            self.error.emit("the project is open read-only; statuses cannot change")
            return
        from core.project.workflow import change_status

        project = self.project

        def job() -> Any:  # one transaction; returns the Change it made
            return change_status(project, image_id, status, comment=comment, through=through)

        self.submit_status_job(image_id, job)

    def submit_status_job(self, image_id: Any, job: Callable[[], Any]) -> None:
        """Queue ``job`` (a status write of ``image_id``) on the writer, in order.

        ``job`` is a :mod:`core.project.workflow` operation returning its ``Change``.
        The model marks the image pending until the write is done (the review queue
        leaves it out meanwhile); then the status the transaction reached
        (``Change.after``), never what was asked for, goes into the model.
        """
        project = self.project

        def write() -> Any:
            change = job()
            return read_state(project, image_id, status=getattr(change, "after", None))

        self.model.begin_write(image_id)
        self.writer.submit(("status", image_id, next(self._seq)), write)

    def submit_current(self) -> Any:
        """Save and mark the open image submitted; returns its id (None if none open)."""
        if self.current is None:
            return None
        self.save_current()
        self.set_status(self.current.image_id, "submitted")
        return self.current.image_id

    def set_params(self, params: Any, image_id: Any) -> None:
        """Store ``params`` as the project default (``image_id`` None) or an override."""
        if self.read_only:
            self.error.emit("the project is open read-only; parameters cannot change")
            return
        project = self.project
        self.writer.submit(
            ("params", image_id, next(self._seq)),
            lambda: project.set_params(params, image_id=image_id),
        )
        if image_id is not None:
            self._overrides[image_id] = True
        if self.current is None:
            return
        cur = self.current.image_id
        if image_id == cur or (image_id is None and not self.has_override(cur)):
            self.apply_params(params)

    def clear_override(self, image_id: Any) -> None:
        if self.read_only or image_id is None:
            return
        project = self.project
        self.writer.submit(
            ("params", image_id, next(self._seq)),
            lambda: project.clear_params_override(image_id),
        )
        self._overrides[image_id] = False
        if self.current is not None and self.current.image_id == image_id:
            self.apply_params(project.params(None))

    def apply_params(self, params: Any) -> None:
        """Recompute texture and GT of the open document (in a worker when large)."""
        doc = self.document
        if doc is None:
            return
        # While a recomputation of this document runs, doc.params still holds the old
        # parameters: going back to them must still queue, or the running one wins.
        running = self._params_worker is not None and not self._params_worker.ended
        if doc.params == params and not (running and self._params_doc is doc):
            return
        rows, cols = doc.shape[:2]
        if rows * cols <= LARGE_IMAGE_PIXELS:
            doc.set_params(params)
            return
        # One recomputation at a time, the latest parameters last: two running at once
        # could finish out of order and leave the older parameters applied.
        self._pending_params = (doc, params)
        if self._params_worker is None or self._params_worker.ended:
            self.busyChanged.emit(True)
            self._next_params()

    def _next_params(self, *_args: Any) -> None:
        pending, self._pending_params = self._pending_params, None
        if pending is None or self._closed:
            self._params_worker = None
            self.busyChanged.emit(False)
            return
        doc, params = pending
        self._params_doc = doc
        worker = ProgressWorker(lambda: doc.set_params_steps(params))
        worker.yielded.connect(self.busyProgress.emit)
        worker.returned.connect(self._next_params)

        def failed(message: str) -> None:
            self.error.emit(message)
            self._next_params()

        on_failure(worker, failed)
        self._params_worker = start(worker)

    def _on_written(self, key: Any, result: Any) -> None:
        kind, image_id = key[0], key[1]
        if kind == "mode":
            self._reopen()
            return
        if kind == "rough":
            result, seq, saved = result
            save = self._pending_saves.get(image_id)
            if save is not None and save.seq == seq:  # not when a newer save is queued
                del self._pending_saves[image_id]
                if save.document.revision == saved:
                    save.document.mark_saved()
                    self._dirty.discard(image_id)
            self._emit_save_state()
        if kind in ("rough", "status", "prelabel") and result is not None:
            # A status job always reports (listeners re-read the history); a save or a
            # pre-label only when the status moved, not on every autosave.
            self.report_status(image_id, result, force=kind == "status")
        if kind == "status":
            self.model.end_write(image_id)  # after its new state: no flicker in the queue

    def _on_write_failed(self, key: Any, message: str) -> None:
        if key[0] == "rough":
            self._pending_saves.pop(key[1], None)
            self.saveStateChanged.emit("NOT SAVED")
        self.error.emit(message)
        if key[0] == "status":
            # Nothing was shown ahead of the catalog; a move of several steps may have
            # stopped half way, so what the catalog holds now is read back.
            try:
                state = read_state(self.project, key[1])
            except Exception:
                state = None
            if state is not None:
                self.report_status(key[1], state, force=True)
            self.model.end_write(key[1])

    def report_status(self, image_id: Any, state: Any, *, force: bool = False) -> None:
        """Put a state read back from the catalog after a write into :attr:`model`.

        ``state``: an :class:`~app.gui.project_model.ImageState` or a bare status. Emits
        :attr:`statusChanged` when the status moved (always with ``force``), so listeners
        (history query, retraining) do not rerun on every autosave.
        """
        if self.model.row_of(image_id) is None:
            return  # not listed (yet)
        moved = self.model.apply_state(image_id, state)
        if moved or force:
            self.statusChanged.emit(image_id, self.model.status(image_id))

    def _emit_save_state(self) -> None:
        if self.read_only:
            self.saveStateChanged.emit("read-only")
        elif self._pending_saves:
            self.saveStateChanged.emit("saving…")
        elif self.current is not None and self.current.image_id in self._dirty:
            self.saveStateChanged.emit("unsaved changes")
        else:
            self.saveStateChanged.emit("saved")

    # -- closing -----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Queue the open document's save and wait for every pending write."""
        self.save_current()
        return self.writer.wait_idle(timeout)

    def close(self) -> None:
        """Save, wait for the writer, and close the project."""
        if self._closed:
            return
        self.save_current()
        self._closed = True
        if self._maps_worker is not None and not self._maps_worker.ended:
            self._maps_worker.cancel()
        self.writer.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.project.close()
