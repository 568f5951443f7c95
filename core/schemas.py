"""Schemas of the files SkinTrace reads that someone else may have written (pydantic).

Checkpoint ``config.json``, dataset ``manifest.json`` and the JSON values of project
catalog rows (settings, model metrics) are validated here for types and ranges before
anything is built from them: a width of ``2**40`` or ``true``, mask levels given as text,
a manifest item without paths are refused with one line naming the file and the field.

:func:`validate` is the one entry point; it is storage-agnostic (it takes parsed JSON), so
any storage — a checkpoint folder, the SQLite catalog, a team server — calls the same
checks. No torch and no Qt here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.bounded import MAX_CONFIG_BYTES, TensorEntry, read_safetensors_header
from core.classes import CLASSES, ClassName
from core.errors import CheckpointError, SkinTraceError
from core.formats import read_versioned_json
from core.model_spec import (
    MAX_CHANNELS,
    MAX_WIDTH,
    MAX_ZERO_PAD,
    NET_NAMES,
)

#: Largest image side a manifest may declare (rows, cols), in pixels.
MAX_SIDE = 65_536
#: Most items one dataset manifest may hold.
MAX_ITEMS = 1_000_000
#: Longest relative path in a manifest.
MAX_PATH = 1024

#: A checkpoint folder: ``config.json`` (this format) + ``model.safetensors``.
CHECKPOINT_FORMAT = "skintrace-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_CONFIG = "config.json"
CHECKPOINT_WEIGHTS = "model.safetensors"
#: Largest weights file read (the widest network the registry allows is ~2.4 GB).
MAX_WEIGHTS_BYTES = 4 << 30

#: A mask level on the 0-255 magnitude scale: ``map >= level`` is the mask.
MaskLevel = Annotated[float, Field(gt=0, le=255)]
Width = Annotated[int, Field(ge=1, le=MAX_WIDTH)]
ZeroPad = Annotated[int, Field(ge=0, le=MAX_ZERO_PAD)]
Channels = Annotated[int, Field(ge=1, le=MAX_CHANNELS)]
ShortText = Annotated[str, Field(max_length=4096)]
JsonScalar = bool | int | float | ShortText | None
RelPath = Annotated[str, Field(min_length=1, max_length=MAX_PATH)]


def _known_net(value: str) -> str:
    if value not in NET_NAMES:
        raise ValueError(f"unknown model; this SkinTrace has {', '.join(NET_NAMES)}")
    return value


class _Strict(BaseModel):
    """No type coercion (``true`` is not 1, ``"3"`` is not 3), no NaN, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


class _Open(_Strict):
    """As :class:`_Strict`, but unknown keys are kept (newer writers may add facts)."""

    model_config = ConfigDict(extra="allow")


# ----------------------------------------------------------------------------- networks


class NetOptions(_Strict):
    """Options of ``create_model(name, **options)`` given from Python or the command line."""

    width: Width | None = None
    in_channels: Channels | None = None
    out_channels: Channels | None = None
    zero_pad: ZeroPad | None = None


class CheckpointConfig(_Strict):
    """The ``config`` section of a checkpoint: RGB in, one map per class out."""

    width: Width
    in_channels: Literal[3] = 3  # IN_CHANNELS
    out_channels: Literal[2] = 2  # OUT_CHANNELS
    zero_pad: ZeroPad | None = None


class CheckpointMetadata(_Open):
    """The ``metadata`` section: facts about the training (unknown keys kept)."""

    params: Annotated[int, Field(ge=0)] | None = None
    date: ShortText | None = None
    torch_version: ShortText | None = None
    data_hash: ShortText | None = None
    mask_levels: dict[ClassName, MaskLevel] | None = None
    metrics: dict[ShortText, Any] | None = None


class CheckpointDocument(_Strict):
    """A checkpoint ``config.json`` (format and version are checked before this)."""

    format: str
    format_version: int
    name: str
    config: CheckpointConfig
    metadata: CheckpointMetadata = CheckpointMetadata()

    @field_validator("name")
    @classmethod
    def _known_net(cls, value: str) -> str:
        return _known_net(value)


# ----------------------------------------------------------------------------- datasets


class ClassPaths(_Strict):
    """One relative path per class."""

    wrinkle: RelPath
    pore: RelPath


class ManifestItem(_Open):
    """One image of a dataset manifest (extra keys such as ``source`` are kept)."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
    image: RelPath
    gt: ClassPaths
    masks: ClassPaths
    rough: ClassPaths
    split: Literal["train", "val"]
    status: ShortText = ""
    content_hash: ShortText = ""
    rows: Annotated[int, Field(ge=1, le=MAX_SIDE)] | None = None
    cols: Annotated[int, Field(ge=1, le=MAX_SIDE)] | None = None
    gt_params: dict[ShortText, JsonScalar] | None = None


class ManifestDocument(_Strict):
    """A dataset ``manifest.json`` (format and version are checked before this)."""

    format: str
    format_version: int
    classes: list[ClassName]
    gt_params: dict[ShortText, JsonScalar] = {}
    val_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    seed: int | None = None
    items: Annotated[list[ManifestItem], Field(max_length=MAX_ITEMS)]

    @field_validator("classes")
    @classmethod
    def _all_classes(cls, value: list[str]) -> list[str]:
        if tuple(value) != CLASSES:
            raise ValueError(f"classes must be {list(CLASSES)}")
        return value


# ----------------------------------------------------------------------------- catalog rows


class ModelMetrics(BaseModel):
    """The metrics stored with a model of a project's history: a flat dict of JSON scalars."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)
    metrics: dict[ShortText, JsonScalar]


class RetrainOptions(BaseModel):
    """The project setting ``retrain.options``: how a retraining candidate is judged.

    Unknown keys are ignored here: the training options older versions kept in this
    setting are read as a partial training config (:class:`core.assist.retrain.TrainOptions`).
    """

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    beat_baselines: bool = True
    decision_metric: Annotated[str, Field(max_length=32)] = "iou"


# ----------------------------------------------------------------------------- validation

M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> str:
    """One line for a pydantic error: the first problem's field, message and value."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]
    ).lstrip(".")
    where = where or "document"
    value = first.get("input")
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    got = "" if first["type"] == "missing" else f", got {shown}"
    return f"{where}: {first['msg']}{got}{more}"


def validate(
    schema: type[M], data: Any, *, what: str, error: type[SkinTraceError] = SkinTraceError
) -> M:
    """Validate parsed JSON against ``schema``; raise ``error`` with one line on failure.

    Parameters
    ----------
    schema : pydantic model class
        E.g. :class:`CheckpointDocument`, :class:`ManifestDocument`.
    data : Any
        The parsed JSON (a dict for every schema here).
    what : str
        Names the source in the message: a file path, "catalog row models #3".
    error : SkinTraceError subclass
        The exception raised.
    """
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise error(f"{what}: {describe(exc)}") from None
    except RecursionError:
        raise error(f"{what}: nested too deeply") from None


def validate_metrics(data: Any, *, what: str, error: type[SkinTraceError]) -> dict[str, Any]:
    """A model's metrics as a flat dict of JSON scalars (strings at most 4096 characters)."""
    return dict(validate(ModelMetrics, {"metrics": data}, what=what, error=error).metrics)


# ----------------------------------------------------------------------------- checkpoint folders


def read_checkpoint_document(
    folder: Path, *, error: type[SkinTraceError] = CheckpointError
) -> tuple[CheckpointDocument, dict[str, Any]]:
    """Read and validate ``folder/config.json``: the schema object and the raw document."""
    cfg = folder / CHECKPOINT_CONFIG
    document = read_versioned_json(
        cfg,
        format_name=CHECKPOINT_FORMAT,
        version=CHECKPOINT_VERSION,
        error=error,
        kind="SkinTrace checkpoint",
        advice="update SkinTrace or retrain",
        max_bytes=MAX_CONFIG_BYTES,
    )
    return validate(CheckpointDocument, document, what=str(cfg), error=error), document


def check_checkpoint_folder(
    folder: str | os.PathLike[str], *, error: type[SkinTraceError] = CheckpointError
) -> tuple[CheckpointDocument, dict[str, TensorEntry]]:
    """Torch-free check of a checkpoint folder handed over by any storage.

    ``config.json`` is validated (:class:`CheckpointDocument`) and the weights file
    must be a regular file inside the folder whose safetensors header matches its size
    (:func:`core.bounded.read_safetensors_header`). That the tensors fit the network the
    config describes is checked by :func:`core.model.checkpoint.verify_checkpoint`,
    which needs torch.

    Returns
    -------
    (CheckpointDocument, dict[str, TensorEntry])
        The validated config and the declared tensors.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise error(f"checkpoint folder not found: {folder}")
    doc, _ = read_checkpoint_document(folder, error=error)
    weights = folder / CHECKPOINT_WEIGHTS
    if not weights.exists() and not weights.is_symlink():
        raise error(f"{folder} is incomplete: {CHECKPOINT_WEIGHTS} is missing")
    header = read_safetensors_header(weights, error=error, max_bytes=MAX_WEIGHTS_BYTES, root=folder)
    return doc, header
