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


#: The exclusion mask (hair, beard, glasses...): painted like a class, never a class itself;
#: its area is removed from both classes' GT.
EXCLUDE: Literal["exclude"] = "exclude"
#: What a rough-mask tool can paint: each class, and the exclusion mask.
LAYER_NAMES: tuple[str, ...] = (*CLASSES, EXCLUDE)


def check_layer(name: str) -> str:
    """``name`` if a tool can paint it (a class or ``"exclude"``), else a ValueError."""
    if name not in LAYER_NAMES:
        raise ValueError(f"unknown class {name!r}; expected one of {', '.join(LAYER_NAMES)}")
    return name
