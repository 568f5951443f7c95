"""One training configuration: :class:`TrainConfig`, its defaults and the job file.

Every way of training builds a :class:`TrainConfig` and nothing else holds defaults:

* ``skintrace train`` from the options given on its command line (the rest default);
* background retraining from the project's partial config (setting ``train_config``,
  only the keys that differ from the defaults, :mod:`core.assist.retrain`);
* ``torchrun`` runs either of the two commands below, one process per rank.

A training process is started from a job file (:class:`TrainJob`: dataset, output
folder, resume, and a partial config) with ``python -m core.model.run JOB.json``, which
prints one JSON object per line of progress (:mod:`core.model.run`). The job file is
read bounded (size, depth, a regular file) and validated field by field; nothing is
unpickled. This module is torch-free: the app and :mod:`core.assist.retrain` import it.

Defaults (why 30 epochs and patience 10): the paper gives no epoch count; the ablation of
docs/model.md trains 30 epochs, and against 100 epochs / patience 15 on the same data
(``benchmarks/ablation_model.py --patience``, docs/model.md "Training defaults") the long
recipe lowered the validation loss but not the IoU retraining decides by (wrinkle -0.027,
pore +0.014, within the seed spread) for about 6x the training time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.atomic import atomic_write_text
from core.bounded import MAX_CONFIG_BYTES
from core.errors import SettingError, SkinTraceError
from core.formats import read_versioned_json
from core.model_spec import MAX_WIDTH, MAX_ZERO_PAD, NET_NAMES

#: The training losses (:mod:`core.model.losses` implements them).
LOSS_NAMES: tuple[str, ...] = ("mse", "weighted-mse", "dice")
#: Mixed-precision choices (:func:`core.model.device.amp_dtype`).
PRECISIONS: tuple[str, ...] = ("auto", "bf16", "fp16", "fp32")
#: ``auto``, ``cpu``, ``mps``, ``cuda`` or ``cuda:N`` (:func:`core.model.device.resolve_device`).
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$"

#: How fields are named in messages (the command-line option where they differ).
_LABELS = {"lr": "learning rate (--lr)", "num_workers": "num_workers (--workers)"}

Positive = Annotated[float, Field(gt=0)]


class TrainConfig(BaseModel):
    """Options of a training run: the one source of training defaults (JSON-serialisable).

    Immutable and validated when built: unknown keys, wrong types (``true`` is not 1,
    ``"3"`` is not 3), NaN and out-of-range values raise :class:`SettingError` with one
    line naming the field. Build one from Python keywords, from a partial dict
    (:meth:`from_partial`), or change one with :meth:`replace`.
    """

    model_config = ConfigDict(
        strict=True, extra="forbid", frozen=True, allow_inf_nan=False, protected_namespaces=()
    )

    model: str = "proposed"
    width: Annotated[int, Field(ge=1, le=MAX_WIDTH)] | None = None
    zero_pad: Annotated[int, Field(ge=0, le=MAX_ZERO_PAD)] | None = None
    epochs: Annotated[int, Field(ge=1, le=100_000)] = 30
    batch_size: Annotated[int, Field(ge=1, le=4096)] = 4
    lr: Annotated[float, Field(gt=0)] = 1e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.0
    loss: Literal["mse", "weighted-mse", "dice"] = "mse"
    class_weights: Annotated[tuple[Positive, Positive] | None, Field(strict=False)] = None
    patience: Annotated[int, Field(ge=1, le=100_000)] = 10
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    device: Annotated[str, Field(pattern=DEVICE_PATTERN)] = "auto"
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    augment: bool = True
    num_workers: Annotated[int, Field(ge=0, le=64)] = 0
    threads: Annotated[int, Field(ge=1, le=4096)] | None = None
    cache: bool = True

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise SettingError(_describe(exc)) from None

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value not in NET_NAMES:
            raise ValueError(f"unknown model {value!r}; choose one of {', '.join(NET_NAMES)}")
        return value

    # -- building ---------------------------------------------------------------------

    @classmethod
    def from_partial(
        cls,
        data: Any,
        *,
        what: str = "training config",
        error: type[SkinTraceError] = SettingError,
    ) -> TrainConfig:
        """The defaults with the keys of ``data`` (parsed JSON) applied.

        Raises ``error`` with one line starting with ``what`` when ``data`` is not an
        object or a key is unknown, of the wrong type or out of range.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
            raise error(f"{what}: must be a JSON object of option names and values")
        try:
            return cls(**data)
        except SettingError as exc:
            raise error(f"{what}: {exc}") from None

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` applied, validated again."""
        return type(self)(**{**self.to_dict(), **changes})

    # -- reading ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every option, JSON types only (``class_weights`` a list)."""
        return self.model_dump(mode="json")

    def partial(self) -> dict[str, Any]:
        """Only the options that differ from the defaults (what a project stores)."""
        defaults = DEFAULTS.to_dict()
        return {k: v for k, v in self.to_dict().items() if v != defaults[k]}


def _describe(exc: ValidationError) -> str:
    """One line: the first problem's option, what is wrong and the value given."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    field = loc[0] if loc else "options"
    label = _LABELS.get(field, field)
    where = label + "".join(f"[{p}]" for p in loc[1:])
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"unknown training option {field!r}; the options are {', '.join(_FIELDS)}"
    if first["type"] == "literal_error":
        expected = (first.get("ctx") or {}).get("expected", "")
        return f"unknown {where} {first.get('input')!r}; choose one of {expected}"
    shown = repr(first.get("input"))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {message}, got {shown}{more}"


_FIELDS: tuple[str, ...] = tuple(TrainConfig.model_fields)
#: The defaults, for comparisons (:meth:`TrainConfig.partial`).
DEFAULTS = TrainConfig()


# ----------------------------------------------------------------------------- job files

JOB_FORMAT = "skintrace-train-job"
JOB_VERSION = 1


class _JobDocument(BaseModel):
    """A job file's fields past ``format``/``format_version`` (checked strictly)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    format: str
    format_version: int
    dataset: Annotated[str, Field(min_length=1, max_length=4096)]
    out: Annotated[str, Field(min_length=1, max_length=4096)]
    resume: bool = False
    config: dict[str, Any] = {}


@dataclass(frozen=True)
class TrainJob:
    """One training process: what to train on, where to write, and with which options."""

    dataset: Path
    out: Path
    config: TrainConfig = DEFAULTS
    resume: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The job file's document (the config partial: only non-default options)."""
        return {
            "format": JOB_FORMAT,
            "format_version": JOB_VERSION,
            "dataset": str(self.dataset),
            "out": str(self.out),
            "resume": self.resume,
            "config": self.config.partial(),
        }


def write_job(path: str | os.PathLike[str], job: TrainJob) -> Path:
    """Write ``job`` as a job file (atomically); returns the path."""
    path = Path(path)
    atomic_write_text(path, json.dumps(job.to_dict(), indent=2, allow_nan=False) + "\n")
    return path


def read_job(path: str | os.PathLike[str]) -> TrainJob:
    """Read and validate a job file; relative paths in it are relative to its folder.

    Raises
    ------
    SettingError
        One line naming the file and the field: missing, too large (1 MiB), nested too
        deeply, another format or version, an unknown key, a bad value.
    """
    path = Path(path)
    what = str(path)
    data = read_versioned_json(
        path,
        format_name=JOB_FORMAT,
        version=JOB_VERSION,
        error=SettingError,
        kind="training job",
        advice="write it again with this version",
        max_bytes=MAX_CONFIG_BYTES,
    )
    try:
        doc = _JobDocument.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "document"
        raise SettingError(f"{what}: {field}: {first['msg']}") from None
    config = TrainConfig.from_partial(doc.config, what=f"{what}: config")
    base = path.parent
    return TrainJob(
        dataset=base / doc.dataset, out=base / doc.out, config=config, resume=doc.resume
    )
