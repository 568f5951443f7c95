"""Reading files someone else may have written, within limits (no torch, no Qt).

A checkpoint or dataset from another lab is untrusted input. Before its contents are
parsed, the file must be a regular file inside the folder it came with (a symlink to
``/dev/zero`` or to ``~/.ssh`` is refused), no larger than a limit, and JSON no deeper
than a limit (Python's parser recurses; a document nested thousands of levels deep would
otherwise end in a RecursionError). Every refusal is raised as the caller's
:class:`~core.errors.SkinTraceError` subclass with a one-line message naming the file.

:func:`read_safetensors_header` checks a ``.safetensors`` file's header (names, dtypes,
shapes, offsets) against the file size *before* the weights are read, so a header that
declares terabytes or overlapping tensors is refused without allocating anything.
"""

from __future__ import annotations

import json
import math
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import SkinTraceError

#: JSON nesting deeper than this is refused (SkinTrace's own documents nest 4 levels).
MAX_JSON_DEPTH = 32
#: Size limits: a checkpoint ``config.json`` is a few kB, a manifest ~300 bytes per item.
MAX_CONFIG_BYTES = 1 << 20
MAX_MANIFEST_BYTES = 256 << 20
#: A JSON value stored in one catalog row (settings, metrics) is small.
MAX_ROW_BYTES = 1 << 20
#: safetensors' own limit on the header size.
MAX_SAFETENSORS_HEADER = 100 << 20

#: Every byte but the quote and the four brackets (deleted before the depth scan).
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}')


def json_depth(text: str) -> int:
    """Deepest nesting of ``[`` / ``{`` in JSON ``text``, found without recursion.

    Escaped backslashes and quotes are dropped first (left to right, as JSON pairs
    them), so every remaining quote opens or closes a string; a bracket counts only
    outside strings. The rest is vectorised: about 40 ms for a 10 MiB manifest.
    """
    raw = text.replace("\\\\", "").replace('\\"', "")
    kept = raw.encode("utf-8", "surrogatepass").translate(None, _NOT_STRUCTURE)
    if not kept:
        return 0
    b = np.frombuffer(kept, dtype=np.uint8)
    quote = b == ord('"')
    outside = ((np.cumsum(quote, dtype=np.int64) & 1) == 0) & ~quote
    opens = (b == ord("[")) | (b == ord("{"))
    closes = (b == ord("]")) | (b == ord("}"))
    step = (opens & outside).astype(np.int64) - (closes & outside).astype(np.int64)
    return max(0, int(np.cumsum(step).max()))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_bounded(
    text: str,
    *,
    what: str,
    error: type[SkinTraceError],
    max_depth: int = MAX_JSON_DEPTH,
    max_chars: int = MAX_ROW_BYTES,
) -> Any:
    """Parse JSON ``text`` refusing over-long or over-deep documents and NaN/Infinity.

    Parameters
    ----------
    text : str
        The JSON document.
    what : str
        Names the document in messages ("settings row 'model.current'", a file path).
    error : SkinTraceError subclass
        Raised with a one-line message.
    max_depth, max_chars : int
        Limits on nesting and length.
    """
    if len(text) > max_chars:
        raise error(f"{what} is {len(text)} characters long; the limit is {max_chars}")
    depth = json_depth(text)
    if depth > max_depth:
        raise error(f"{what} is nested {depth} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers too long to convert.
        raise error(f"{what} is corrupt or cannot be read: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def check_regular_file(
    path: Path,
    *,
    error: type[SkinTraceError],
    max_bytes: int,
    root: Path | None = None,
) -> int:
    """Refuse anything but a regular file of at most ``max_bytes`` (inside ``root``).

    A symlink is followed only if it stays inside ``root`` (the checkpoint or dataset
    folder); devices, FIFOs and folders are refused whatever their name.

    Returns
    -------
    int
        The file size in bytes.
    """
    if root is not None and path.is_symlink():
        try:
            path.resolve().relative_to(root.resolve())
        except (ValueError, OSError, RuntimeError):
            raise error(
                f"{path} is a symlink to a file outside {root}; copy the file in instead"
            ) from None
    try:
        st = path.stat()
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path} is not a regular file (a device, pipe or folder); refused")
    if st.st_size > max_bytes:
        raise error(
            f"{path} is {st.st_size / 2**20:.1f} MiB; a file of this kind is at most "
            f"{max_bytes / 2**20:.1f} MiB"
        )
    return int(st.st_size)


def read_bytes_bounded(
    path: Path, *, error: type[SkinTraceError], max_bytes: int, root: Path | None = None
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`check_regular_file`)."""
    check_regular_file(path, error=error, max_bytes=max_bytes, root=root)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:  # it grew since the check
        raise error(f"{path} is larger than {max_bytes / 2**20:.1f} MiB; refused")
    return data


def read_json_bounded(
    path: Path,
    *,
    error: type[SkinTraceError],
    max_bytes: int,
    max_depth: int = MAX_JSON_DEPTH,
    root: Path | None = None,
) -> Any:
    """Parse a JSON file within size and depth limits; see :func:`loads_bounded`."""
    data = read_bytes_bounded(path, error=error, max_bytes=max_bytes, root=root)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path} is corrupt or cannot be read: {_one_line(exc)}") from None
    return loads_bounded(
        text, what=str(path), error=error, max_depth=max_depth, max_chars=max_bytes
    )


# ----------------------------------------------------------------------------- safetensors

#: Bytes per element of each safetensors dtype.
DTYPE_SIZES: Mapping[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as a safetensors header declares it."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def read_safetensors_header(
    path: Path,
    *,
    error: type[SkinTraceError],
    max_bytes: int,
    root: Path | None = None,
) -> dict[str, TensorEntry]:
    """Validate a ``.safetensors`` file's header against its size; no tensor is read.

    Checks: regular file inside ``root`` of at most ``max_bytes``; a header of at most
    100 MiB that is a flat JSON object; each tensor's dtype known, shape non-negative
    integers, byte range ``prod(shape) * itemsize`` long, ranges contiguous from 0 and
    ending exactly at the end of the file.

    Returns
    -------
    dict[str, TensorEntry]
        Tensor name to its declared dtype, shape and byte range.
    """
    size = check_regular_file(path, error=error, max_bytes=max_bytes, root=root)
    if size < 8:
        raise error(f"{path} is corrupt: {size} bytes, too short for a safetensors header")
    try:
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n > MAX_SAFETENSORS_HEADER or 8 + n > size:
                raise error(f"{path} is corrupt: its header claims {n} bytes of a {size}-byte file")
            raw = fh.read(n)
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is corrupt: its header is not UTF-8 text") from None
    header = loads_bounded(
        text, what=f"{path} header", error=error, max_depth=3, max_chars=MAX_SAFETENSORS_HEADER
    )
    if not isinstance(header, dict):
        raise error(f"{path} is corrupt: its header is not a JSON object")
    entries: dict[str, TensorEntry] = {}
    for name, raw_entry in header.items():
        if name == "__metadata__":
            continue
        entries[name] = _entry(path, name, raw_entry, error)
    ranges = sorted((e.begin, e.end, k) for k, e in entries.items())
    position = 0
    for begin, end, name in ranges:
        if begin != position:
            raise error(
                f"{path} is corrupt: tensor {name!r} starts at byte {begin}, not {position}"
            )
        position = end
    if 8 + n + position != size:
        raise error(
            f"{path} is corrupt: its tensors need {8 + n + position} bytes, the file has {size}"
        )
    return entries


def _entry(path: Path, name: str, raw: Any, error: type[SkinTraceError]) -> TensorEntry:
    bad = f"{path} is corrupt: tensor {name!r}"
    if not isinstance(raw, dict):
        raise error(f"{bad} is not described by an object")
    dtype, shape, offsets = raw.get("dtype"), raw.get("shape"), raw.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise error(f"{bad} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise error(f"{bad} has shape {shape!r}; expected a list of non-negative integers")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        or offsets[1] < offsets[0]
    ):
        raise error(f"{bad} has byte range {offsets!r}")
    nbytes = math.prod(shape) * DTYPE_SIZES[str(dtype)]
    if offsets[1] - offsets[0] != nbytes:
        raise error(
            f"{bad} declares shape {shape} ({nbytes} bytes) but a {offsets[1] - offsets[0]}-byte range"
        )
    return TensorEntry(str(dtype), tuple(shape), offsets[0], offsets[1])
