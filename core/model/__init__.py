"""The model corner: the only package that imports torch.

The public names are imported lazily, so ``import core.model.masks`` (used by the app
for pre-labels) does not pull in torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "create_model": "core.model.registry",
    "model_config": "core.model.registry",
    "count_parameters": "core.model.registry",
    "MODEL_NAMES": "core.model.registry",
    "save_checkpoint": "core.model.checkpoint",
    "load_checkpoint": "core.model.checkpoint",
    "read_checkpoint_info": "core.model.checkpoint",
    "CheckpointInfo": "core.model.checkpoint",
    "Predictor": "core.model.infer",
    "train": "core.model.train",
    "TrainConfig": "core.model.train_config",
    "TrainJob": "core.model.train_config",
    "evaluate": "core.model.evaluate",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.model' has no attribute {name!r}")
