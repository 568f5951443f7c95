"""Qt-free precision tools for 1-5 px structures.

The canvas turns mouse events into image ``(row, col)`` and calls these; the document
(:class:`core.gt.document.AnnotationDocument`) applies what they return as one undo step.

* :mod:`core.tools.pores` — click-to-pore and box-select pores (scale-space blob detection);
* :mod:`core.tools.snap` — wrinkle centreline snapping for the brush and the polyline tool.
"""

from __future__ import annotations

from core.tools.pores import Blob, PoreFinder, blob_region, find_pores, pore_at
from core.tools.snap import CentrelineSnapper, SnapPoint, snap_polyline

__all__ = [
    "Blob",
    "CentrelineSnapper",
    "PoreFinder",
    "SnapPoint",
    "blob_region",
    "find_pores",
    "pore_at",
    "snap_polyline",
]
