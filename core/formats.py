"""Versioned JSON documents (dataset manifests, checkpoint configs): one bounded reader.

The file must be a regular file (a symlink only within its folder) within a size limit,
and the JSON no deeper than :data:`core.bounded.MAX_JSON_DEPTH`; see :mod:`core.bounded`.
The fields past ``format`` / ``format_version`` are the caller's to validate
(:mod:`core.schemas`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.bounded import MAX_CONFIG_BYTES, read_json_bounded
from core.errors import SkinTraceError


def read_versioned_json(
    file: Path,
    *,
    format_name: str,
    version: int,
    error: type[SkinTraceError],
    kind: str,
    advice: str,
    max_bytes: int = MAX_CONFIG_BYTES,
) -> dict[str, Any]:
    """Read a JSON object whose ``format`` and ``format_version`` must match.

    Parameters
    ----------
    file : Path
        The document, e.g. ``DATASET/manifest.json``.
    format_name, version : str, int
        The expected ``"format"`` and ``"format_version"`` values.
    error : SkinTraceError subclass
        Raised, with a one-line message naming the file, when anything is off.
    kind : str
        What the folder holding ``file`` should be, for messages ("SkinTrace dataset").
    advice : str
        What the user can do about another version ("update SkinTrace or retrain").
    max_bytes : int
        Larger files are refused before they are read (default 1 MiB).

    Returns
    -------
    dict
        The parsed document.
    """
    if not file.exists() and not file.is_symlink():
        raise error(f"{file.parent} is not a {kind}: {file.name} is missing")
    data = read_json_bounded(file, error=error, max_bytes=max_bytes, root=file.parent)
    if not isinstance(data, dict) or data.get("format") != format_name:
        raise error(f"{file} is not a {format_name} document (a {kind} needs one)")
    found = data.get("format_version")
    if type(found) is not int or found != version:
        raise error(
            f"{file} has format version {found!r}; this SkinTrace reads version {version} "
            f"({advice})"
        )
    return data
