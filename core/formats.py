"""Versioned JSON documents (dataset manifests, checkpoint configs): one reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import SkinTraceError


def read_versioned_json(
    file: Path,
    *,
    format_name: str,
    version: int,
    error: type[SkinTraceError],
    kind: str,
    advice: str,
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

    Returns
    -------
    dict
        The parsed document.
    """
    if not file.is_file():
        raise error(f"{file.parent} is not a {kind}: {file.name} is missing")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{file} is corrupt or cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != format_name:
        raise error(f"{file} is not a {format_name} document (a {kind} needs one)")
    found = data.get("format_version")
    if found != version:
        raise error(
            f"{file} has format version {found!r}; this SkinTrace reads version {version} "
            f"({advice})"
        )
    return data
