"""Callbacks watch the trainer from outside (the collapse monitor is one)."""
from __future__ import annotations

from pathlib import Path


class Callback:
    """Every method is a no-op; override what you need."""

    def on_fit_start(self, trainer) -> None:
        pass

    def on_step_end(self, trainer) -> None:
        pass

    def on_checkpoint(self, trainer, path: Path) -> None:
        pass

    def protected_checkpoints(self, trainer) -> set[Path]:
        """Checkpoints that pruning must keep (e.g. the last healthy one)."""
        return set()

    def on_diverged(self, trainer, message: str) -> None:
        pass

    def on_fit_end(self, trainer, result: dict) -> None:
        pass
