"""Atomic checkpoints, loaded without executing code.

A checkpoint is a plain dict of tensors and Python scalars written with ``torch.save``
to a temporary file, fsynced, then renamed over the target, so a crash mid-write never
leaves a truncated file under a checkpoint's name. Loading uses ``weights_only=True``:
no code is executed from a checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError
from ..rundir import CKPT_RE, RunDir

__all__ = ["CKPT_RE", "RunDir", "atomic_write_bytes", "load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e).strip()
        if text.startswith("Weights only load failed"):
            # torch's message is a page long; the cause that matters fits in a line
            why = "not a PyTorch checkpoint, or it holds objects that a weights-only load refuses to build"
        else:
            why = text.splitlines()[0][:160] if text else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable or truncated ({why})") from None
    if not isinstance(state, dict) or "step" not in state or "G" not in state:
        raise CheckpointError(f"{path} is not a ModeGuard checkpoint")
    return state
