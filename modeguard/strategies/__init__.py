"""Anti-collapse strategies, one module each, registered by name.

Every module in this package is imported on first use of the registry, so adding a
strategy is one file with a ``@register`` class.
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import Option, Strategy, parse_strategies, parse_strategy, register, registry

_LOADED = False


def _import_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")

__all__ = ["Option", "Strategy", "parse_strategies", "parse_strategy", "register", "registry"]
