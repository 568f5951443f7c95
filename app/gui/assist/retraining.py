"""Background retraining: a separate training process, replace-if-better (the controller).

:class:`RetrainController` runs one retraining at a time in four steps:

1. export the accepted images as a GT dataset (a worker thread, :mod:`core.assist.retrain`);
2. ``python -m core.model.run RUN/train-job.json`` (the core training entry point; the
   job holds the project's :class:`~core.model.train_config.TrainConfig`) in a
   :class:`QProcess` — a crash or an out-of-memory there cannot take the window down, and
   device "auto" uses the GPU when there is one; each epoch's JSON line
   (:func:`core.model.run.parse_event`) updates the panel;
3. ``python -m core.model.eval_run`` of the candidate and the current model on the same
   validation images (a second process);
4. :func:`core.assist.retrain.decide` and :func:`core.assist.retrain.register_model` through the
   session's writer: every candidate enters the model history; it becomes current only
   if its validation IoU is better.

Cancel stops whichever step runs (SIGTERM makes ``train`` stop cleanly between batches)
and removes the unfinished run folder, off the GUI thread (the panel shows "cancelling…").
:class:`~.training_panel.TrainingPanel` shows it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from ..workers import ProgressWorker, describe_error, on_failure, run_function, start

if TYPE_CHECKING:
    from core.assist.retrain import RetrainRun, TrainOptions

    from ..parts import Notifier
    from ..session import AnnotationSession
    from ..status_bar import StatusBar

#: Accepted images from which retraining is worth it: below this the panel warns (the
#: paper trained on 264 images; a few images teach a model little beyond its baselines).
RECOMMENDED_ACCEPTED = 20

#: Repository root (the folder holding the ``app`` package), put on the child's path.
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
STDERR_LINES = 40
#: How long a cancelled process has to stop after SIGTERM before it is killed.
KILL_AFTER_MS = 10_000


class RetrainController(QObject):
    """Runs retraining for the window's session; one run at a time."""

    #: (step) "idle", "exporting", "training", "evaluating", "registering", "cancelling".
    stateChanged = Signal(str)
    #: (epoch record from ``--progress-json``)
    epochReported = Signal(dict)
    #: (result dict: ``outcome`` replaced | kept | cancelled | failed, ``message``, ...)
    finished = Signal(dict)
    #: () an image was accepted or left "accepted" (the panel's warning follows).
    acceptedChanged = Signal()
    #: () the current model changed (a better model, or a rollback elsewhere).
    modelChanged = Signal()

    def __init__(self, status: StatusBar, notifier: Notifier, parent: QObject) -> None:
        super().__init__(parent)
        self.status = status
        self.notifier = notifier
        self.session: AnnotationSession | None = None
        self.state = "idle"
        self.run: RetrainRun | None = None
        self.options: TrainOptions | None = None
        self.process: QProcess | None = None
        self.export_worker: ProgressWorker | None = None
        self.records: list[dict[str, Any]] = []
        self.train_info: dict[str, Any] = {}
        self.last_result: dict[str, Any] | None = None
        self._stdout = b""
        self._stderr: list[str] = []
        self._error = ""
        self._cancelling = False
        self._blocking = False  # a cancel that waits (closing the session)
        self._ending = False  # the cancelled run's folder is being removed
        self._current_path: Path | None = None
        #: Asked before each run starts; False stops it (it says why). None: always run.
        self.before_start: Callable[[], bool] | None = None

    # -- session -------------------------------------------------------------------

    def attach(self, session: AnnotationSession | None) -> None:
        if self.session is not None:
            self.cancel(wait=True)
            self.session.statusChanged.disconnect(self._on_status)
            self.session.writer.written.disconnect(self._on_written)
            self.session.writer.failed.disconnect(self._on_write_failed)
        self.session = session
        self.acceptedChanged.emit()
        if session is not None:
            session.statusChanged.connect(self._on_status)
            session.writer.written.connect(self._on_written)
            session.writer.failed.connect(self._on_write_failed)

    def _on_status(self, _image_id: int, status: str) -> None:
        from core.assist.retrain import should_retrain

        self.acceptedChanged.emit()
        s = self.session
        if status == "accepted" and self.state == "idle" and s is not None and not s.read_only:
            if should_retrain(s.project):
                self.start()

    # -- steps -------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.state = state
        self.stateChanged.emit(state)
        if state == "idle":
            self.status.hide_training()
        elif state == "training" and self.options is not None:
            epochs = self.options.config.epochs
            self.status.show_training("Training", len(self.records), epochs)
        else:
            self.status.show_training(state.capitalize() + "…")

    def accepted_count(self) -> int:
        s = self.session
        return 0 if s is None else int(s.project.counts().get("accepted", 0))

    def start(self) -> bool:
        """Start a retraining run now; False (with a message) if it cannot start."""
        from core.assist.retrain import TrainOptions, mark_run_started, new_run
        from core.errors import SkinTraceError

        s = self.session
        if s is None:
            return False
        if self.state != "idle":
            self.notifier.show("Retraining is already running.", 5000)
            return False
        if s.read_only:
            self.notifier.report("the project is open read-only; it cannot be retrained")
            return False
        s.flush(5.0)  # the latest accepted statuses and masks are in the catalog
        project = s.project
        try:
            self.options = TrainOptions.from_project(project)
            if len(project.images(status="accepted")) < 2:
                raise SkinTraceError(
                    "retraining needs at least 2 accepted images (accept them in review mode)"
                )
            self.run = new_run(project)
        except SkinTraceError as exc:
            self.notifier.report(str(exc))
            return False
        if self.before_start is not None and not self.before_start():
            return False  # e.g. a team project's retraining lock is taken (app.gui.team)
        accepted = self.accepted_count()
        if accepted < RECOMMENDED_ACCEPTED:
            self.notifier.show(
                f"Retraining on only {accepted} accepted images; {RECOMMENDED_ACCEPTED} or "
                "more are recommended (docs/model-assisted.md).",
                10000,
            )
        s.writer.submit(("retrain_mark", str(self.run.root)), lambda: mark_run_started(project))
        self.records, self.train_info, self._stderr, self._error = [], {}, [], ""
        self._cancelling = self._blocking = self._ending = False
        self._set_state("exporting")
        run = self.run

        def make() -> Any:
            from core.assist.retrain import prepare_dataset

            return prepare_dataset(project, run, seed=0)

        worker = ProgressWorker(make)
        worker.returned.connect(lambda _last: self._start_training())
        on_failure(worker, lambda message: self._finish("failed", message))
        worker.aborted.connect(lambda *_: self._finish("cancelled", "retraining cancelled"))
        self.export_worker = start(worker)
        return True

    def _process(self, argv: list[str], on_finished: Any) -> QProcess:
        assert self.run is not None
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        path = env.value("PYTHONPATH", "")
        env.insert("PYTHONPATH", PACKAGE_ROOT + (os.pathsep + path if path else ""))
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.setWorkingDirectory(str(self.run.root))
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._stdout = b""
        self.process = proc
        proc.start(argv[0], argv[1:])
        return proc

    def _start_training(self) -> None:
        from core.assist.retrain import train_command

        if self._cancelling or self.run is None or self.options is None:
            self._finish("cancelled", "retraining cancelled")
            return
        self._set_state("training")
        self._process(train_command(self.run, self.options), self._training_finished)

    def _training_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        from core.assist.retrain import evaluate_command

        if self._cancelling or code == 130:  # the folder goes: no log to keep
            self._finish("cancelled", "retraining cancelled")
            return
        self._flush_logs("train.log")
        if code != 0 or self.run is None or not (self.run.candidate / "config.json").exists():
            self._finish("failed", f"training failed: {self._last_error()}")
            return
        assert self.options is not None and self.session is not None
        current = self.session.project.current_model()
        self._current_path = None if current is None else Path(current.path)
        self._set_state("evaluating")
        argv = evaluate_command(self.run, self._current_path, self.options)
        self._process(argv, self._evaluation_finished)

    def _evaluation_finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        from core.assist.retrain import decide, read_report, register_model
        from core.errors import SkinTraceError

        if self._cancelling:
            self._finish("cancelled", "retraining cancelled")
            return
        self._flush_logs("evaluate.log")
        if code != 0 or self.run is None or self.session is None:
            self._finish("failed", f"evaluation failed: {self._last_error()}")
            return
        run, project = self.run, self.session.project
        try:
            decision = decide(
                read_report(run.evaluation),
                candidate=run.candidate,
                current=self._current_path,
                metric=self.options.decision_metric if self.options else "iou",
            )
        except SkinTraceError as exc:
            self._finish("failed", str(exc))
            return
        info = {
            "epochs": len(self.records),
            "best_epoch": self.train_info.get("best_epoch"),
            "best_val_loss": self.train_info.get("best_val_loss"),
            "stop_reason": self.train_info.get("reason"),
            "model": self.options.config.model if self.options else None,
            "width": self.options.config.width if self.options else None,
            "train_images": len(project.images(status="accepted")),
        }
        self._decision = decision
        self._set_state("registering")
        self.session.writer.submit(
            ("retrain_register", str(run.root)),
            lambda: register_model(project, run.candidate, decision, train_info=info),
        )

    def _on_written(self, key: Any, result: Any) -> None:
        if key[0] != "retrain_register" or self.run is None or key[1] != str(self.run.root):
            return
        decision = self._decision
        outcome = "replaced" if decision.replace else "kept"
        self._finish(outcome, decision.reason, model_id=result, decision=decision)
        if decision.replace:
            self.modelChanged.emit()

    def _on_write_failed(self, key: Any, message: str) -> None:
        if key[0] == "retrain_register" and self.run is not None and key[1] == str(self.run.root):
            self._finish("failed", message)

    # -- process output ----------------------------------------------------------

    def _read_stdout(self) -> None:
        from core.model.run import parse_event

        proc = self.sender()
        if not isinstance(proc, QProcess):
            return
        self._stdout += bytes(proc.readAllStandardOutput().data())
        *lines, self._stdout = self._stdout.split(b"\n")
        for raw in lines:
            event = parse_event(raw)
            if event is None:
                continue
            if event.get("event") == "epoch":
                self.records.append(event)
                total = int(
                    event.get("epochs") or (self.options.config.epochs if self.options else 0)
                )
                self.status.show_training("Training", len(self.records), total)
                self.epochReported.emit(event)
            elif event.get("event") == "done":
                self.train_info = event
            elif event.get("event") == "error":
                self._error = str(event.get("message", ""))

    def _read_stderr(self) -> None:
        proc = self.sender()
        if not isinstance(proc, QProcess):
            return
        text = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace")
        self._stderr.extend(line for line in text.splitlines() if line.strip())
        del self._stderr[:-STDERR_LINES]

    def _flush_logs(self, name: str) -> None:
        """Keep the process's last stderr lines in the run folder (for a failed run)."""
        from core.atomic import atomic_write_text

        if self.run is not None and self.run.root.exists():
            try:
                atomic_write_text(self.run.root / name, "\n".join(self._stderr) + "\n")
            except OSError as exc:  # the outcome is still reported; only the log is lost
                self.notifier.show(f"Cannot keep {name}: {describe_error(exc)}", 8000)

    def _last_error(self) -> str:
        if self._error:  # the training process's own one-line reason
            return self._error
        for line in reversed(self._stderr):
            if "error" in line.lower() or "skintrace:" in line:
                return line.strip()
        return self._stderr[-1].strip() if self._stderr else "the process exited with an error"

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._finish("failed", f"cannot start {sys.executable}: {error.name}")

    # -- ending --------------------------------------------------------------------

    def cancel(self, *, wait: bool = False) -> None:
        """Stop the running step and remove the unfinished run folder; returns at once
        (:attr:`finished` follows), or with ``wait`` (closing) once both are done."""
        if self.state == "idle" or (self.state == "registering" and not wait):
            return  # a registration is one short write: it completes
        self._cancelling = True
        self._blocking = self._blocking or wait
        if self.state not in ("registering", "cancelling"):
            self._set_state("cancelling")
        if self.export_worker is not None and not self.export_worker.ended:
            self.export_worker.cancel()
        proc = self.process
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            return
        proc.terminate()  # train stops cleanly between batches on SIGTERM
        if not wait:
            QTimer.singleShot(KILL_AFTER_MS, proc, proc.kill)  # (no-op once it has ended)
        elif not proc.waitForFinished(KILL_AFTER_MS):
            proc.kill()
            proc.waitForFinished(2000)

    def _finish(self, outcome: str, message: str, **extra: Any) -> None:
        if self.state == "idle" or self._ending:
            return
        root = None if self.run is None or outcome != "cancelled" else self.run.root
        if root is not None and not self._blocking:  # a large folder: not on the GUI thread
            self._ending = True
            end = lambda *_a: self._end(outcome, message, extra)  # noqa: E731
            run_function(lambda: shutil.rmtree(root, ignore_errors=True), on_done=end, on_error=end)
            return
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        self._end(outcome, message, extra)

    def _end(self, outcome: str, message: str, extra: dict[str, Any]) -> None:
        if self.state == "idle":
            return
        run = self.run
        self._ending = False
        self.process = None
        self.export_worker = None
        self.last_result = {"outcome": outcome, "message": message, **extra}
        if run is not None:
            self.last_result["run"] = str(run.root)
        self._set_state("idle")
        text = {
            "replaced": f"New model is now current: {message}",
            "kept": f"New model kept in the history only: {message}",
            "cancelled": "Retraining cancelled.",
            "failed": f"Retraining failed: {message}",
        }[outcome]
        if outcome == "failed":
            self.notifier.report(text)
        else:
            self.notifier.show(text, 10000)
        self.finished.emit(self.last_result)
