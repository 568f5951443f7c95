"""SkinTrace core: ground-truth engine, project storage and models. Never imports Qt."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
