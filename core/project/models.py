"""Registered model checkpoints and the model log (which model was current when).

Mixed into :class:`core.project.Project` (schema migrations 2 and 4). ``models`` holds
each checkpoint with its metrics; ``model_log`` is append-mostly: kind ``"current"``
rows record :meth:`ModelsMixin.set_current_model` (the newest one is the current model;
``model_id`` NULL = the baselines), kind ``"made_current"`` rows are the stack of models
retraining made current (:mod:`core.assist.retrain`), relabelled ``"rolled_back"`` when a
rollback pops them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.bounded import loads_bounded
from core.errors import ProjectError
from core.project.host import CatalogHost
from core.schemas import validate_metrics

if TYPE_CHECKING:
    from core.project.db import Tx

#: ``model_log.kind`` of a current-model choice.
CURRENT = "current"
_MODEL_COLUMNS = "id, path, metrics_json, note, added_utc"


@dataclass(frozen=True)
class ModelRecord:
    """A checkpoint registered with the project."""

    id: int
    #: Absolute path of the checkpoint folder.
    path: Path
    metrics: Mapping[str, Any]
    note: str
    added: str


@dataclass(frozen=True)
class ModelLogEntry:
    """One row of the model log."""

    id: int
    #: None: the baselines (no model).
    model_id: int | None
    time: str
    kind: str
    text: str


class ModelsMixin(CatalogHost):
    """Checkpoints, the current model and the model log."""

    def add_model(
        self, path: str | os.PathLike[str], metrics: Mapping[str, Any], *, note: str = ""
    ) -> int:
        """Register a checkpoint folder with its evaluation metrics; return its id.

        A folder inside the project is stored relative to it, so the project can move.
        """
        p = Path(path).absolute()
        try:
            stored = p.relative_to(self.root).as_posix()
        except ValueError:
            stored = str(p)
        try:
            text = json.dumps(dict(metrics), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ProjectError(f"model metrics must be plain JSON numbers/strings: {exc}") from None
        with self.db.transaction() as tx:
            now, _ = self.now_and_user()
            return tx.insert(
                "INSERT INTO models(path, metrics_json, note, added_utc) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (stored, text, note, now),
            )

    def models(self) -> list[ModelRecord]:
        """Registered checkpoints, oldest first."""
        return [
            self._model(r) for r in self.db.rows(f"SELECT {_MODEL_COLUMNS} FROM models ORDER BY id")
        ]

    def _model(self, row: tuple) -> ModelRecord:
        mid, path, metrics, note, added = row
        p = Path(str(path))
        try:  # the row may come from another writer: validated, never trusted
            values = validate_metrics(
                loads_bounded(str(metrics), what=f"model #{mid} metrics", error=ProjectError),
                what=f"model #{mid} metrics",
                error=ProjectError,
            )
        except ProjectError as exc:
            values, note = {}, f"{note} [{exc}]".strip()  # listed, never used as numbers
        return ModelRecord(
            int(mid), p if p.is_absolute() else self.root / p, values, str(note), str(added)
        )

    def current_model(self) -> ModelRecord | None:
        """The checkpoint chosen for pre-labeling (the model log's newest choice), or None."""
        with self.db.read() as tx:
            row = tx.one(
                "SELECT model_id FROM model_log WHERE kind = ? ORDER BY id DESC LIMIT 1",
                (CURRENT,),
            )
            if row is None or row[0] is None:
                return None
            mid = row[0]
            if type(mid) is not int:
                raise ProjectError(f"the model log's current model is {mid!r}, not a model id")
            found = tx.one(f"SELECT {_MODEL_COLUMNS} FROM models WHERE id = ?", (mid,))
        return self._model(found) if found else None

    def set_current_model(self, model_id: int | None, *, tx: Tx | None = None) -> None:
        """Choose the checkpoint for pre-labeling (None: no model); logged as ``"current"``."""
        if tx is None:
            with self.db.transaction() as own:
                self.set_current_model(model_id, tx=own)
            return
        if (
            model_id is not None
            and tx.one("SELECT 1 FROM models WHERE id = ?", (model_id,)) is None
        ):
            raise ProjectError(f"no model with id {model_id} in this project")
        self.log_model(CURRENT, model_id, tx=tx)

    # ------------------------------------------------------------------ model log

    def log_model(
        self, kind: str, model_id: int | None, text: str = "", *, tx: Tx | None = None
    ) -> int:
        """Append a model log row; return its id."""
        if not kind:
            raise ProjectError("a model log entry needs a kind")
        sql = (
            "INSERT INTO model_log(model_id, time_utc, kind, text) VALUES (?, ?, ?, ?) RETURNING id"
        )
        args = (model_id, self.now_and_user()[0], kind, text)
        if tx is not None:
            return tx.insert(sql, args)
        with self.db.transaction() as own:
            return own.insert(sql, args)

    def model_log(self, kind: str | None = None) -> list[ModelLogEntry]:
        """Model log rows, oldest first (of one ``kind`` if given)."""
        sql = "SELECT id, model_id, time_utc, kind, text FROM model_log"
        args: tuple[str, ...] = ()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", (kind,)
        return [
            ModelLogEntry(int(i), None if m is None else m, str(t), str(k), str(x))
            for i, m, t, k, x in self.db.rows(sql + " ORDER BY id", args)
        ]

    def relabel_model_log(self, ids: Iterable[int], kind: str, *, tx: Tx | None = None) -> None:
        """Change the kind of some model log rows (a rollback marks what it popped)."""
        rows = [(kind, int(i)) for i in ids]
        if tx is not None:
            tx.executemany("UPDATE model_log SET kind = ? WHERE id = ?", rows)
            return
        with self.db.transaction() as own:
            own.executemany("UPDATE model_log SET kind = ? WHERE id = ?", rows)
