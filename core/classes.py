"""The annotation classes, in channel order."""

from __future__ import annotations

from typing import Literal

ClassName = Literal["wrinkle", "pore"]

#: Channel order of every two-channel map (GT, model output): 0 = wrinkle, 1 = pore.
CLASSES: tuple[ClassName, ClassName] = ("wrinkle", "pore")


def check_class(name: str) -> ClassName:
    """Return ``name`` if it is a known class, else raise a ValueError naming the choices."""
    if name not in CLASSES:
        raise ValueError(f"unknown class {name!r}; expected one of {', '.join(CLASSES)}")
    return name
