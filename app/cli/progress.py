"""Render core :class:`~core.progress.Progress` generators as terminal progress bars."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

from core.progress import Progress

T = TypeVar("T")


def drive(progress: Iterable[Progress], *, desc: str, quiet: bool = False) -> Progress | None:
    """Consume a progress generator, drawing a bar on stderr; return the last Progress."""
    last: Progress | None = None
    bar = None
    try:
        for p in progress:
            last = p
            if quiet:
                continue
            if bar is None:
                bar = tqdm(total=p.total, desc=desc, file=sys.stderr, unit="", leave=True)
            if bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            if p.message:
                bar.set_postfix_str(p.message, refresh=False)
            bar.refresh()
    finally:
        if bar is not None:
            bar.close()
    return last
