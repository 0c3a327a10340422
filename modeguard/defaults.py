"""The callbacks every run gets: registered here, once, when :mod:`modeguard` is imported.

The trainer imports neither the monitor nor the report; it asks
:func:`modeguard.train.callbacks.standard_callbacks`, which lists what is registered here:
sample figures (always), the collapse monitor (``monitor_every > 0``) and TensorBoard
(``tensorboard: true``), each unless the caller passed one of its own.
"""
from __future__ import annotations

from .monitor.callback import monitor_callbacks
from .report.sample_figures import SampleFigures
from .report.tensorboard import TensorBoardCallback
from .train.callbacks import register_standard_callbacks


def _figures(config, given) -> list:
    return [] if any(isinstance(cb, SampleFigures) for cb in given) else [SampleFigures()]


def _tensorboard(config, given) -> list:
    if config.tensorboard and not any(isinstance(cb, TensorBoardCallback) for cb in given):
        return [TensorBoardCallback()]
    return []


def register() -> None:
    """Register ModeGuard's standard callbacks (idempotent)."""
    for factory in (_figures, monitor_callbacks, _tensorboard):
        register_standard_callbacks(factory)


register()
