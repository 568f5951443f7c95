"""Retraining from the accepted images, replace-if-better, model history and rollback.

One retraining run lives in ``<project>/models/run-<UTC time>/``:

* ``dataset/`` — the accepted images exported as a GT dataset (:func:`prepare_dataset`,
  the project's own export code);
* ``train-job.json`` — the training job (:class:`~core.model.train_config.TrainJob`);
* ``train/`` — the output of ``python -m core.model.run`` (``train/best`` is the candidate);
* ``evaluation.json`` — ``python -m core.model.eval_run`` of the candidate *and* the
  current model on the same validation images of that dataset.

The app runs training and evaluation in separate processes (:func:`train_command`,
:func:`evaluate_command`); this module is Qt-free and torch-free. :func:`decide` reads
the evaluation report: the candidate replaces the current model only if its validation
IoU (mean of the two classes' global IoU) is strictly better. Every candidate is
registered in the project's model history with its metrics (:func:`register_model`),
whether it became current or not, and :func:`rollback` makes an earlier model current.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.bounded import MAX_MANIFEST_BYTES, read_json_bounded
from core.classes import CLASSES
from core.errors import SkinTraceError
from core.gt.baselines import EVAL_SOURCE
from core.gt.metrics import TOLERANCES
from core.model.train_config import TrainConfig, TrainJob, write_job
from core.progress import CancelToken, Progress
from core.schemas import RetrainOptions, check_checkpoint_folder, validate

#: Project settings used here (all optional).
SETTING_AFTER = "retrain.after_accepted"  # retrain after N newly accepted images (0: never)
SETTING_LAST_COUNT = "retrain.accepted_at_last_run"
#: Model log kinds (``Project.model_log``): the stack of models made current, oldest
#: first (schema 3 kept it in the setting ``retrain.current_log``), and what rollback popped.
LOG_MADE_CURRENT = "made_current"
LOG_ROLLED_BACK = "rolled_back"
SETTING_OPTIONS = "retrain.options"  # beat_baselines, decision_metric (see TrainOptions)
#: The project's partial TrainConfig: only the options that differ from the defaults.
SETTING_TRAIN_CONFIG = "train_config"
#: Training options that versions before ``train_config`` kept in ``retrain.options``.
LEGACY_TRAIN_KEYS = (
    "model",
    "width",
    "epochs",
    "batch_size",
    "patience",
    "device",
    "threads",
    "seed",
)
DEFAULT_AFTER = 10
MIN_IMAGES = 2


class RetrainError(SkinTraceError):
    """Retraining cannot run as asked (too few accepted images, a bad report...)."""


#: Scores the retraining decision can compare, with their names in messages. IoU is the
#: paper's; clDice and F1@k forgive 1-3 px offsets of thin structures (core.gt.metrics).
DECISION_METRICS: dict[str, str] = {
    "iou": "IoU",
    "cldice": "clDice",
    **{f"f1@{k}": f"F1@{k}px" for k in TOLERANCES},
}


def check_metric(metric: str) -> str:
    """``metric`` if the decision can use it, else a :class:`RetrainError` naming the choices."""
    if metric not in DECISION_METRICS:
        choices = ", ".join(DECISION_METRICS)
        raise RetrainError(f"unknown decision metric {metric!r}; choose one of {choices}")
    return metric


@dataclass(frozen=True)
class TrainOptions:
    """A retraining run's options: its training config and how its candidate is judged.

    ``config`` comes from the project setting ``train_config`` (a partial
    :class:`~core.model.train_config.TrainConfig`: only the options that differ from the
    defaults); the two judging options from ``retrain.options``.
    """

    config: TrainConfig = field(default_factory=TrainConfig)
    #: With no current model, the first one must beat the image-processing baselines
    #: (the pre-label source it would replace) on the validation images.
    beat_baselines: bool = True
    #: The validation score that decides whether the candidate replaces the current model:
    #: ``"iou"`` (Eq. 4, the paper's) or a thin-structure score (:data:`DECISION_METRICS`).
    decision_metric: str = "iou"

    @classmethod
    def from_settings(cls, options: Any = None, train_config: Any = None) -> TrainOptions:
        """Options from the two project settings (parsed JSON); validated, one-line errors.

        Training options that older versions kept in ``retrain.options`` still apply;
        ``train_config`` overrides them.
        """
        checked = validate(
            RetrainOptions,
            {} if options is None else options,
            what=f"project setting {SETTING_OPTIONS!r}",
            error=RetrainError,
        )
        check_metric(checked.decision_metric)
        config = TrainConfig.from_partial(
            _partial_config(options, train_config),
            what=f"project setting {SETTING_TRAIN_CONFIG!r}",
            error=RetrainError,
        )
        return cls(config, checked.beat_baselines, checked.decision_metric)

    @classmethod
    def from_project(cls, project: Any) -> TrainOptions:
        """The project's retraining options (:meth:`from_settings`)."""
        return cls.from_settings(
            project.get_setting(SETTING_OPTIONS), project.get_setting(SETTING_TRAIN_CONFIG)
        )


def _partial_config(options: Any, train_config: Any) -> Any:
    """The legacy training keys of ``retrain.options`` overridden by ``train_config``."""
    legacy = options if isinstance(options, Mapping) else {}
    merged = {k: legacy[k] for k in LEGACY_TRAIN_KEYS if k in legacy}
    if train_config is None:
        return merged
    if not isinstance(train_config, Mapping):
        return train_config  # refused by TrainConfig.from_partial, naming the setting
    return {**merged, **train_config}


def store_train_config(project: Any, **changes: Any) -> dict[str, Any]:
    """Change the project's training options; returns the partial config stored.

    Only the options that differ from the defaults are stored (setting ``train_config``),
    so a later version's better default reaches every option the user left alone.
    Training options an older version kept in ``retrain.options`` move there too. A bad
    value raises :class:`~core.errors.SettingError` and stores nothing.
    """
    options = project.get_setting(SETTING_OPTIONS)
    try:
        current = TrainConfig.from_partial(
            _partial_config(options, project.get_setting(SETTING_TRAIN_CONFIG))
        )
    except SkinTraceError:  # a bad stored row is replaced, not a reason to refuse the edit
        current = TrainConfig()
    partial = current.replace(**changes).partial()
    project.set_setting(SETTING_TRAIN_CONFIG, partial)
    if isinstance(options, Mapping) and any(k in options for k in LEGACY_TRAIN_KEYS):
        rest = {k: v for k, v in options.items() if k not in LEGACY_TRAIN_KEYS}
        project.set_setting(SETTING_OPTIONS, rest)
    return partial


@dataclass(frozen=True)
class RetrainRun:
    """The folders of one retraining run."""

    root: Path

    @property
    def dataset(self) -> Path:
        return self.root / "dataset"

    @property
    def train_out(self) -> Path:
        return self.root / "train"

    @property
    def job(self) -> Path:
        return self.root / "train-job.json"

    @property
    def candidate(self) -> Path:
        return self.root / "train" / "best"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.json"


@dataclass(frozen=True)
class Decision:
    """Whether a candidate checkpoint replaces the current model, and why."""

    replace: bool
    candidate_iou: Mapping[str, float]
    current_iou: Mapping[str, float] | None
    split: str
    images: int
    reason: str
    #: The score compared (:data:`DECISION_METRICS`) and its class means for the candidate
    #: and for what it was compared with (None: nothing to compare with).
    metric: str = "iou"
    candidate_value: float | None = None
    current_value: float | None = None

    @property
    def candidate_score(self) -> float:
        return score(self.candidate_iou)

    @property
    def current_score(self) -> float | None:
        return None if self.current_iou is None else score(self.current_iou)


def score(iou: Mapping[str, float]) -> float:
    """The number compared: mean over the classes of the global validation score."""
    return sum(float(iou[c]) for c in CLASSES) / len(CLASSES)


# ---------------------------------------------------------------------------- runs


def new_run(project: Any, *, now: datetime | None = None) -> RetrainRun:
    """A fresh run folder under ``<project>/models/`` (created, empty).

    Earlier run folders that no registered model uses (left by a killed or failed
    run) are removed first: the project's writer lock means none is still running.
    """
    from core.project.repair import clean_runs

    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    models = Path(project.root) / "models"
    models.mkdir(parents=True, exist_ok=True)
    # Runs that a killed (or failed) earlier run left, which no registered model uses.
    clean_runs(project)
    for k in range(1, 1000):
        root = models / (f"run-{stamp}" if k == 1 else f"run-{stamp}-{k}")
        try:
            root.mkdir()
        except FileExistsError:
            continue
        return RetrainRun(root)
    raise RetrainError(f"cannot create a new run folder in {models}")


def prepare_dataset(
    project: Any, run: RetrainRun, *, seed: int = 0, cancel: CancelToken | None = None
) -> Iterator[Progress]:
    """Export the accepted images to ``run.dataset`` (the project's export code).

    The train/validation split is keyed by each image's content hash, so an image keeps
    its split from one run to the next and a later run's validation images include every
    earlier one's (see :func:`core.dataset.split_for`).
    """
    accepted = project.images(status="accepted")
    if len(accepted) < MIN_IMAGES:
        raise RetrainError(
            f"retraining needs at least {MIN_IMAGES} accepted images; the project has "
            f"{len(accepted)} (accept more in review mode)"
        )
    # A model trained on empty masks learns to predict nothing, and would still score
    # IoU 1.0 on empty validation masks and replace a useful model.
    if not any(m.any() for r in accepted for m in project.load_rough(r.id).values()):
        raise RetrainError(
            "the accepted images have no painted rough masks, so there is nothing to learn; "
            "paint them and accept them again"
        )
    yield from project.export(run.dataset, seed=seed, cancel=cancel)


def validation_split(dataset: str | os.PathLike[str]) -> str:
    """``"val"`` if the dataset has validation images, else ``"all"`` (tiny projects)."""
    from core.dataset import read_manifest

    return "val" if read_manifest(dataset).split("val") else "all"


def train_command(
    run: RetrainRun, options: TrainOptions, *, python: str | None = None
) -> list[str]:
    """Write the run's training job file and return the argv that runs it.

    The process is ``python -m core.model.run RUN/train-job.json`` (the core training
    entry point, progress as JSON lines). ``device`` "auto" (the default) trains on the
    GPU when there is one.
    """
    job = TrainJob(dataset=run.dataset, out=run.train_out, config=options.config)
    write_job(run.job, job)
    return [python or sys.executable, "-m", "core.model.run", str(run.job)]


def evaluate_command(
    run: RetrainRun,
    current: str | os.PathLike[str] | None,
    options: TrainOptions,
    *,
    python: str | None = None,
) -> list[str]:
    """The argv that scores the candidate and the current model on the same images.

    The process is the core evaluation entry point (:mod:`core.model.eval_run`), which
    writes ``run.evaluation``.
    """
    argv = [
        python or sys.executable,
        "-m",
        "core.model.eval_run",
        str(run.dataset),
        "--checkpoint",
        str(run.candidate),
    ]
    if current is not None:
        argv += ["--checkpoint", str(current)]
    elif options.beat_baselines:
        # No model yet: pre-labels come from the baselines, so the first model must beat them.
        argv += ["--baselines"]
    argv += [
        "--split",
        validation_split(run.dataset),
        "--json",
        str(run.evaluation),
        "--device",
        options.config.device,
    ]
    if options.config.threads is not None:
        argv += ["--threads", str(options.config.threads)]
    return argv


# ---------------------------------------------------------------------------- decide


def _same(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def _result_for(results: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Mapping:
    for r in results:
        if r.get("source") and _same(r["source"], path):
            return r
    raise RetrainError(f"the evaluation report has no result for {path}")


def decide(
    report: Mapping[str, Any],
    *,
    candidate: str | os.PathLike[str],
    current: str | os.PathLike[str] | None,
    metric: str = "iou",
) -> Decision:
    """Compare candidate and current model on the same validation images.

    Parameters
    ----------
    report : mapping
        ``skintrace evaluate --json`` output (``EvalReport.to_dict()``) that scored both
        checkpoints in one run, hence on the same images.
    candidate, current : path
        Checkpoint folders; ``current`` None when the project has no model yet. Pre-labels
        then come from the image-processing baselines, so when the report scored them
        (``evaluate_command`` asks for it) the first model must beat them; a report
        without a baseline result makes the first model current.
    metric : str, keyword-only
        The global validation score compared (:data:`DECISION_METRICS`): ``"iou"`` (default,
        Eq. 4), ``"cldice"`` or ``"f1@1"``, ``"f1@2"``, ``"f1@3"`` (F1 within k px).

    Returns
    -------
    Decision
        ``replace`` is True only if the candidate's mean global score is strictly higher.
    """
    check_metric(metric)
    label = "validation " + DECISION_METRICS[metric]

    def scores_of(result: Mapping[str, Any]) -> dict[str, float]:
        try:
            if metric == "iou":
                return {c: float(result["iou"][c]) for c in CLASSES}
            return {c: float(result["scores"][c]["global"][metric]) for c in CLASSES}
        except (KeyError, TypeError, ValueError):
            raise RetrainError(
                f"the evaluation report has no {DECISION_METRICS[metric]} for "
                f"{result.get('method', 'a method')}; evaluate again with this version"
            ) from None

    results = report.get("results")
    if not isinstance(results, list):
        raise RetrainError("the evaluation report has no results list")
    split = str(report.get("split", "?"))
    images = int(report.get("images", 0))
    cand_result = _result_for(results, candidate)
    cand, cand_iou = scores_of(cand_result), _iou_of(cand_result)
    if current is None:
        base = next((r for r in results if r.get("source") == EVAL_SOURCE), None)
        if base is None:
            reason = "first model of the project"
            return Decision(True, cand_iou, None, split, images, reason, metric, score(cand))
        ref = scores_of(base)
        new, old = score(cand), score(ref)
        if new > old:
            reason = f"{label} {new:.4f} > {old:.4f} of the image-processing baselines"
        else:
            reason = (
                f"{label} {new:.4f} is not better than {old:.4f} of the image-processing "
                "baselines; pre-labels keep coming from the baselines"
            )
        return Decision(new > old, cand_iou, _iou_of(base), split, images, reason, metric, new, old)
    if _same(candidate, current):
        raise RetrainError("the candidate and the current model are the same checkpoint")
    cur_result = _result_for(results, current)
    cur = scores_of(cur_result)
    new, old = score(cand), score(cur)
    if new > old:
        reason = f"{label} {new:.4f} > {old:.4f} of the current model"
    else:
        reason = f"{label} {new:.4f} is not better than {old:.4f}; the current model stays"
    return Decision(
        new > old, cand_iou, _iou_of(cur_result), split, images, reason, metric, new, old
    )


def _iou_of(result: Mapping[str, Any]) -> dict[str, float]:
    try:
        return {c: float(result["iou"][c]) for c in CLASSES}
    except (KeyError, TypeError, ValueError):
        raise RetrainError("the evaluation report has a result without IoU") from None


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an evaluation JSON report, with a clear error if it is missing or broken."""
    if not Path(path).exists():
        raise RetrainError(f"the evaluation did not write its report {path}")
    data = read_json_bounded(Path(path), error=RetrainError, max_bytes=MAX_MANIFEST_BYTES)
    if not isinstance(data, dict):
        raise RetrainError(f"{path} is not an evaluation report")
    return data


# ---------------------------------------------------------------------------- history


def register_model(
    project: Any,
    candidate: str | os.PathLike[str],
    decision: Decision,
    *,
    train_info: Mapping[str, Any] | None = None,
    note: str = "",
) -> int:
    """Add the candidate to the model history with its metrics; make it current if better.

    The metrics stored: ``iou_wrinkle``, ``iou_pore``, ``iou_mean`` (validation),
    ``val_split``, ``val_images``, ``replaced`` (became current), ``compared_with``
    (the then-current model id), ``current_iou_mean``, ``reason``, plus the numbers in
    ``train_info`` (e.g. ``epochs``, ``best_epoch``, ``best_val_loss``, ``train_images``).
    Returns the new model id. The candidate folder is validated first
    (:func:`core.schemas.check_checkpoint_folder`): a bad one raises :class:`RetrainError`
    and nothing is registered.
    """
    check_checkpoint_folder(candidate, error=RetrainError)  # before anything is registered
    previous = project.current_model()
    metrics: dict[str, Any] = {f"iou_{c}": decision.candidate_iou[c] for c in CLASSES}
    metrics.update(
        iou_mean=decision.candidate_score,
        val_split=decision.split,
        val_images=decision.images,
        replaced=decision.replace,
        compared_with=None if previous is None else previous.id,
        current_iou_mean=decision.current_score,
        reason=decision.reason,
        decision_metric=decision.metric,
        decision_value=decision.candidate_value,
        current_decision_value=decision.current_value,
    )
    for key, value in (train_info or {}).items():
        if isinstance(value, bool | int | float | str) or value is None:
            metrics.setdefault(key, value)
    model_id = project.add_model(candidate, metrics, note=note)
    if decision.replace:
        make_current(project, model_id)
    return int(model_id)


def make_current(project: Any, model_id: int | None) -> None:
    """Choose the current model (None: back to the baselines) and log the change
    (model log kind :data:`LOG_MADE_CURRENT`), in one transaction."""
    with project.db.transaction() as tx:
        project.set_current_model(model_id, tx=tx)
        project.log_model(LOG_MADE_CURRENT, model_id, tx=tx)


def rollback(project: Any, model_id: int | None = None) -> Any:
    """Make an earlier model current again; returns its ModelRecord (None: baselines).

    Parameters
    ----------
    model_id : int, optional
        The model to go back to. By default the model that was current before the
        current one (from the project's log of current models), or the baselines when
        the current model was the first.
    """
    if model_id is None:
        target, popped = _rollback_target(project)
        if target is not None:
            _check_usable(project, target)
        with project.db.transaction() as tx:
            project.set_current_model(target, tx=tx)
            project.relabel_model_log(popped, LOG_ROLLED_BACK, tx=tx)
        return project.current_model()
    if model_id not in {m.id for m in project.models()}:
        raise RetrainError(f"no model with id {model_id} in this project's history")
    _check_usable(project, model_id)
    make_current(project, model_id)
    return project.current_model()


def rollback_target(project: Any) -> int | None:
    """The model :func:`rollback` without ``model_id`` goes back to (None: the baselines)."""
    return _rollback_target(project)[0]


def _rollback_target(project: Any) -> tuple[int | None, list[int]]:
    """The model to go back to and the model log rows a rollback pops."""
    current = project.current_model()
    if current is None:
        raise RetrainError("there is no current model to roll back from")
    # The log is a stack of current models: pop the current one (and repeats of it)
    # and go back to the one below it, or to the baselines when it was the first.
    log = project.model_log(LOG_MADE_CURRENT)
    popped: list[int] = []
    while log and log[-1].model_id == current.id:
        popped.append(log.pop().id)
    known = {m.id for m in project.models()}
    while log and log[-1].model_id not in known:
        popped.append(log.pop().id)
    return (log[-1].model_id if log else None), popped


def _check_usable(project: Any, model_id: int) -> None:
    """Validate a registered checkpoint (it may come from elsewhere) before it is used."""
    record = next(m for m in project.models() if m.id == model_id)
    try:
        check_checkpoint_folder(record.path, error=RetrainError)
    except RetrainError as exc:
        raise RetrainError(
            f"model #{model_id} was not used ({exc}); the current model stays"
        ) from None


# ---------------------------------------------------------------------------- trigger


def retrain_after(project: Any) -> int:
    """The project's "retrain after N newly accepted images" setting (0: only on demand)."""
    value = project.get_setting(SETTING_AFTER, DEFAULT_AFTER)
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return DEFAULT_AFTER


def newly_accepted(project: Any) -> int:
    """Accepted images since the last retraining run started."""
    accepted = len(project.images(status="accepted"))
    return max(0, accepted - int(project.get_setting(SETTING_LAST_COUNT, 0) or 0))


def should_retrain(project: Any) -> bool:
    """True when N (>0) or more images were accepted since the last run."""
    n = retrain_after(project)
    return n > 0 and newly_accepted(project) >= n and len(project.images(status="accepted")) >= 2


def mark_run_started(project: Any) -> None:
    """Remember how many images were accepted when this run started."""
    project.set_setting(SETTING_LAST_COUNT, len(project.images(status="accepted")))
