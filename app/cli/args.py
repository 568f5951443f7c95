"""argparse value types that refuse out-of-range numbers at parse time.

``--epochs 0`` is then a usage error naming the option (exit 2) before torch is even
imported, instead of an error deep inside the work.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _number(cast: Callable[[str], float], kind: str, text: str) -> float:
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse ``type`` for whole numbers ``>= low``."""

    def parse(text: str) -> int:
        value = int(_number(int, "a whole number", text))
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text}")
        return value

    parse.__name__ = f"int>={low}"
    return parse


def positive_float(text: str) -> float:
    """An argparse ``type`` for finite numbers ``> 0``."""
    value = _number(float, "a number", text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def finite_float(text: str) -> float:
    """An argparse ``type`` for finite numbers (ranges are checked where they are used)."""
    return _number(float, "a number", text)


def ratio(text: str) -> float:
    """An argparse ``type`` for a share in ``[0, 1]``."""
    value = _number(float, "a number", text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
