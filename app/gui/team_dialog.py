"""File → Open team project…: a PostgreSQL address, a user name and a password.

The password is used for this connection only: it is never stored (not in the
preferences, not in the recent-projects list, not in the environment of child
processes). ``~/.pgpass`` or ``$PGPASSWORD`` work as with every PostgreSQL client, so
the field may stay empty.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from .parts import Frame, Notifier
    from .session import AnnotationSession

#: QSettings key of the last address (without password).
LAST_ADDRESS = "team/last_address"


def with_password(address: str, password: str) -> str:
    """``address`` (URL or ``key=value`` conninfo) with ``password`` added, for one connect."""
    if not password:
        return address
    from psycopg.conninfo import make_conninfo

    return make_conninfo(address, password=password)


def strip_password(address: str) -> str:
    """``address`` without any password in it (what may be remembered or shown)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        parts = conninfo_to_dict(address)
    except Exception:  # not a valid conninfo: nothing is remembered
        return ""
    parts.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in parts.items()})


class OpenTeamDialog(QDialog):
    """Asks for the team project's address, the user name and the password."""

    def __init__(self, *, user: str, address: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open team project")
        self.address = QLineEdit(address)
        self.address.setPlaceholderText("postgresql://ana@lab-server/skin_study")
        self.user = QLineEdit(user)
        self.user.setPlaceholderText("empty: your PostgreSQL user (recommended)")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("not stored; empty: ~/.pgpass or $PGPASSWORD")
        form = QFormLayout()
        form.addRow("Address", self.address)
        form.addRow("Your name", self.user)
        form.addRow("Password", self.password)
        note = QLabel("The password is used for this connection only and never stored.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)


def open_project(address: str, *, user: str | None) -> Any:
    """Open the team project at ``address`` (the PostgreSQL backend of ``Project.open``)."""
    from core.project import Project

    return Project.open(address, user=user)


class TeamOpener:
    """File → Open team project…: asks for the address, then opens it in the window.

    Built by :func:`install` from the window's parts and its ``set_session``; never holds
    the window itself.
    """

    def __init__(
        self,
        parent: QWidget,
        notifier: Notifier,
        set_session: Callable[[AnnotationSession], None],
    ) -> None:
        self.parent = parent
        self.notifier = notifier
        self._set_session = set_session
        #: The last dialog shown (tests fill it in), or None.
        self.dialog: OpenTeamDialog | None = None

    def open(self, address: str, *, password: str = "", user: str) -> bool:
        """Open the team project at ``address`` in the window; False (reported) on failure.

        Only the address without its password is remembered (for the next dialog).
        """
        from core.errors import SkinTraceError

        from .session import AnnotationSession

        try:
            project = open_project(with_password(address.strip(), password), user=user or None)
        except SkinTraceError as exc:
            self.notifier.report(str(exc))
            return False
        self._set_session(AnnotationSession(project, self.parent))
        kept = strip_password(address.strip())
        if kept:
            QSettings().setValue(LAST_ADDRESS, kept)
        return True

    def ask_and_open(self) -> bool:
        """Ask for the address, user and password, and open the project; False if not."""
        address = str(QSettings().value(LAST_ADDRESS, ""))
        dialog = OpenTeamDialog(user="", address=address, parent=self.parent)
        self.dialog = dialog
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        return self.open(
            dialog.address.text(),
            password=dialog.password.text(),
            user=dialog.user.text().strip(),
        )


def install(
    frame: Frame,
    set_session: Callable[[AnnotationSession], None],
) -> TeamOpener:
    """File → Open team project… (after File → Open project…)."""
    opener = TeamOpener(frame.window, frame.notifier, set_session)
    menu = frame.menus.file
    action = frame.registry.add(
        "open_team_project",
        "Open &team project…",
        opener.ask_and_open,
        "Ctrl+Shift+O",
        tip="Open a project shared through a PostgreSQL server (docs/team-workflow.md)",
    )
    opens = [a for a in menu.actions() if a.text() == "&Open project…"]
    after = menu.actions()[menu.actions().index(opens[0]) + 1] if opens else None
    if after is not None:
        menu.insertAction(after, action)
    else:
        menu.addAction(action)
    return opener
