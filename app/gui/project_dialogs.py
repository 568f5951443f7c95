"""File menu work: new / open / open recent project, import images with progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QProgressDialog

from .preferences import add_recent_project, recent_projects
from .workers import ProgressWorker, on_failure, start

if TYPE_CHECKING:
    from .main_window import MainWindow


class ProjectActions:
    """The File menu's slots for one window."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.import_worker: ProgressWorker | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.import_dialog: QDialog | None = None

    def new_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Folder for the new project")
        if not folder:
            return
        name, ok = QInputDialog.getText(self.w, "New project", "Name", text=Path(folder).name)
        if ok:
            self.create_project(folder, name=name or Path(folder).name)

    def create_project(self, folder: str, *, name: str) -> bool:
        from core.errors import SkinTraceError
        from core.project import Project

        try:
            Project.create(folder, name=name, user=self.w.prefs.user_name).close()
        except SkinTraceError as exc:
            self.w.report(str(exc))
            return False
        return self.w.open_project(folder)

    def open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a SkinTrace project")
        if folder:
            self.w.open_project(folder)

    def fill_recent_menu(self) -> None:
        menu = self.w.recent_menu
        menu.clear()
        paths = recent_projects()
        if not paths:
            menu.addAction("(none)").setEnabled(False)
        for path in paths:
            menu.addAction(path, lambda p=path: self.w.open_project(p))

    def import_images(self) -> None:
        if self.w.session is None:
            self.w.report("open or create a project first")
            return
        from .face_import import ImportDialog

        dialog = ImportDialog(self.w, last_import_folder())
        self.import_dialog = dialog
        if dialog.exec() == QDialog.DialogCode.Accepted:
            choice = dialog.choice()
            self.start_import(choice.folder, align=choice.align)

    def start_import(self, folder: str, *, copy: bool = False, align: tuple[int, int] | None = None) -> ProgressWorker | None:  # fmt: skip
        """Run ``Project.import_images`` in a worker with a cancellable progress dialog.

        With ``align`` (crop rows, cols) the face photos are first aligned into
        ``PROJECT/aligned/`` and the crops imported (``skintrace import --align``). The faces
        of the new images are then found in the background (:class:`~.face_import.FaceQueue`).
        """
        session = self.w.session
        if session is None or session.read_only:
            self.w.report("the project is open read-only; reopen it for writing to import")
            return None
        project = session.project
        QSettings().setValue(LAST_IMPORT_KEY, str(Path(folder).absolute()))
        dialog = QProgressDialog("Importing images…", "Cancel", 0, 0, self.w)
        dialog.setWindowTitle("Import images")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        worker: ProgressWorker

        before = {r.id for r in project.images()}

        def make() -> Any:
            if align is not None:
                from .face_import import aligned_import

                return aligned_import(project, folder, align, copy=copy, cancel=worker.token)
            return project.import_images(folder, copy=copy, cancel=worker.token)

        worker = ProgressWorker(make)

        def on_progress(p: Any) -> None:
            dialog.setMaximum(max(0, p.total))
            dialog.setValue(min(p.done, max(0, p.total)))
            if p.message:
                dialog.setLabelText(p.message)

        def finish(*_args: Any) -> None:
            dialog.reset()
            dialog.close()
            self.w.refresh_images()
            queue = getattr(self.w, "face_queue", None)
            if queue is not None and self.w.session is not None:
                queue.add([r for r in self.w.session.project.images() if r.id not in before])

        def done(last: Any) -> None:
            finish()
            info = getattr(last, "info", None) or {}
            summary = info.get("summary")
            if summary is not None:  # what was added and what was skipped, and why
                lines = summary.lines()
                if "aligned" in info:
                    skipped = info["aligned"].get("skipped", [])
                    lines.insert(0, f"aligned {info['aligned'].get('aligned', 0)} photo(s)")
                    if skipped:  # photos without a usable face: not aligned, not imported
                        lines.append(f"{len(skipped)} not aligned (first: {skipped[0][0]}: {skipped[0][1]})")  # fmt: skip
                text = "Import: " + "; ".join(lines)
                if summary.unreadable:  # the reason matters: a truncated copy, a format...
                    self.w.report(f"{text}; first skipped: {summary.unreadable[0][1]}")
                else:
                    self.w.status.showMessage(text, 15000)

        def failed(message: str) -> None:
            finish()
            self.w.report(f"import stopped: {message}")

        worker.yielded.connect(on_progress)
        worker.returned.connect(done)
        worker.aborted.connect(finish)
        on_failure(worker, failed)
        dialog.canceled.connect(worker.cancel)
        self.import_worker = worker
        self.progress_dialog = dialog
        return start(worker)


#: QSettings key of the folder the last import came from (where the next dialog starts).
LAST_IMPORT_KEY = "import/last_folder"


def last_import_folder() -> str:
    """Where *Import images* starts: the last import's folder, else the home folder."""
    last = QSettings().value(LAST_IMPORT_KEY, "")
    if isinstance(last, str) and last and Path(last).is_dir():
        return last
    return str(Path.home())


def remember(path: str | Path) -> None:
    add_recent_project(str(Path(path).absolute()))
