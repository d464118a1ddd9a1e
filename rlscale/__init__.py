"""rlscale: scaling laws of value-based deep RL in JAX.

Public surface: `rlscale.agents.make`, `rlscale.envs.make`, `rlscale.train`, `rlscale.load_results`.
Submodules load lazily, so `rlscale.analysis` and `rlscale.results` never import JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"agents", "envs", "config", "results", "replay", "training", "sweeps", "analysis"}
_FUNCTIONS = {
    "train": ("rlscale.training.train", "train"),
    "load_results": ("rlscale.results", "read"),
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"rlscale.{name}")
    if name in _FUNCTIONS:
        module, attribute = _FUNCTIONS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'rlscale' has no attribute {name!r}")


__all__ = sorted(_SUBMODULES | set(_FUNCTIONS))
