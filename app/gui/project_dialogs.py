"""File menu work: new / open / open recent project, import images with progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QProgressDialog, QWidget

from .preferences import add_recent_project, recent_projects
from .workers import ProgressWorker, on_failure, start

if TYPE_CHECKING:
    from collections.abc import Callable

    from .face_import import FaceQueue
    from .parts import Menus, Notifier
    from .preferences import Preferences
    from .session import AnnotationSession


class ProjectHost(Protocol):
    """What the File menu's slots use of the window."""

    @property
    def session(self) -> AnnotationSession | None: ...
    @property
    def prefs(self) -> Preferences: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def menus(self) -> Menus: ...
    @property
    def face_queue(self) -> FaceQueue: ...

    def open_project(self, folder: str | Path) -> bool: ...
    def refresh_images(self) -> None: ...


class ProjectActions:
    """The File menu's slots for one window (``parent`` owns their dialogs)."""

    def __init__(self, host: ProjectHost, parent: QWidget) -> None:
        self.w = host
        self.parent = parent
        self.import_worker: ProgressWorker | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.import_dialog: QDialog | None = None

    def new_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Folder for the new project")
        if not folder:
            return
        name, ok = QInputDialog.getText(self.parent, "New project", "Name", text=Path(folder).name)
        if ok:
            self.create_project(folder, name=name or Path(folder).name)

    def create_project(self, folder: str, *, name: str) -> bool:
        from core.errors import SkinTraceError
        from core.project import Project

        try:
            Project.create(folder, name=name, user=self.w.prefs.user_name).close()
        except SkinTraceError as exc:
            self.w.notifier.report(str(exc))
            return False
        return self.w.open_project(folder)

    def open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Open a SkinTrace project")
        if folder:
            self.w.open_project(folder)

    def fill_recent_menu(self) -> None:
        menu = self.w.menus.recent
        menu.clear()
        paths = recent_projects()
        if not paths:
            menu.addAction("(none)").setEnabled(False)
        for path in paths:
            menu.addAction(path, self._opener(path))

    def _opener(self, path: str) -> Callable[[], object]:
        return lambda: self.w.open_project(path)

    def import_images(self) -> None:
        if self.w.session is None:
            self.w.notifier.report("open or create a project first")
            return
        from .face_import import ImportDialog

        dialog = ImportDialog(self.parent, last_import_folder())
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
            self.w.notifier.report("the project is open read-only; reopen it for writing to import")
            return None
        project = session.project
        QSettings().setValue(LAST_IMPORT_KEY, str(Path(folder).absolute()))
        dialog = QProgressDialog("Importing images…", "Cancel", 0, 0, self.parent)
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
            if self.w.session is not None:
                self.w.face_queue.add(
                    [r for r in self.w.session.project.images() if r.id not in before]
                )

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
                    self.w.notifier.report(f"{text}; first skipped: {summary.unreadable[0][1]}")
                else:
                    self.w.notifier.show(text, 15000)

        def failed(message: str) -> None:
            finish()
            self.w.notifier.report(f"import stopped: {message}")

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
