"""Callbacks watch the trainer from outside (the collapse monitor is one).

A callback steers the run only through the trainer's public surface: it may call
``trainer.request_stop(reason)``; it never raises to stop training. Its state travels in
the run's checkpoints: ``state_dict()`` is saved under ``state_key`` and handed back to
``load_state_dict`` when the run is reopened, as Lightning's callbacks do.

The callbacks every run gets unless the caller passes its own of the same kind (the
monitor, TensorBoard, sample figures) are registered once, in :mod:`modeguard.defaults`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

#: ``factory(config, given_callbacks) -> callbacks to add``
CallbackFactory = Callable[[object, list], list]
_STANDARD: list[CallbackFactory] = []


class Callback:
    """Every method is a no-op; override what you need.

    Order within a step: ``on_step_end`` (after logging and snapshots), then, at checkpoint
    steps, ``on_before_checkpoint``, the checkpoint (which includes ``state_dict()``),
    ``on_checkpoint``.
    """

    @property
    def state_key(self) -> str:
        """The name this callback's state is saved under in a checkpoint."""
        return type(self).__name__

    def on_fit_start(self, trainer) -> None:
        """Training starts (or restarts after a resume)."""

    def on_step_end(self, trainer) -> None:
        """A step finished; ``trainer.ctx.step`` is its number."""

    def on_before_checkpoint(self, trainer, path: Path) -> None:
        """A checkpoint is about to be written to ``path`` (state may still change)."""

    def on_checkpoint(self, trainer, path: Path) -> None:
        """A checkpoint was written to ``path``."""

    def protected_checkpoints(self, trainer) -> set[Path]:
        """Checkpoints that pruning must keep (e.g. the last healthy one)."""
        return set()

    def on_diverged(self, trainer, message: str) -> None:
        """The losses turned non-finite; the trainer raises DivergenceError next."""

    def on_fit_end(self, trainer, result: dict) -> None:
        """Training finished with the final evaluation ``result``; entries a callback adds to
        it are written to ``eval.json`` with it."""

    def state_dict(self) -> dict:
        """What must survive a resume (JSON-like data and tensors); ``{}`` for nothing."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


def register_standard_callbacks(factory: CallbackFactory) -> None:
    """Add a factory of callbacks that every :class:`~modeguard.train.Trainer` gets."""
    if factory not in _STANDARD:
        _STANDARD.append(factory)


def standard_callbacks(config, given: list) -> list[Callback]:
    """The registered factories' callbacks for ``config``, given the caller's ``given``."""
    out: list[Callback] = []
    for factory in _STANDARD:
        out += factory(config, [*given, *out])
    return out
