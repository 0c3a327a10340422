"""Atomic checkpoints, loaded without executing code and checked before use.

A checkpoint is a plain dict of tensors and Python scalars, serialised in memory with
``torch.save``, written to a temporary file, fsynced, then renamed over the target, so a
crash mid-write never leaves a truncated file under a checkpoint's name. Serialising in
memory first means a full disk shows up as the file system's own error (``No space left on
device``), not as a serialiser's internal one. Loading uses ``weights_only=True`` (no code
is executed from a checkpoint), then every field is checked for type before anyone uses it.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

import torch

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError, write_failure
from ..rundir import CKPT_RE, RunDir

__all__ = ["CKPT_RE", "RunDir", "atomic_write_bytes", "check_checkpoint", "load_checkpoint",
           "load_newest_checkpoint", "same_state", "save_checkpoint"]

#: fields every checkpoint the trainer writes (it has a ``format``) carries
TRAINER_FIELDS = ("step", "G", "D", "opt_g", "opt_d", "rng", "torch_rng", "strategies")


def same_state(a, b) -> bool:
    """True where two checkpoint parts (nested dicts / lists / tuples of tensors and scalars)
    are bit-identical: what a resumed run must reproduce."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically.

    Raises :class:`~modeguard.errors.RunWriteError` (one line: the cause, and the newest
    other checkpoint beside ``path``, which is kept) when the machine refuses the write,
    or ``OutputPathError`` where ``path`` cannot be a file. ``path`` keeps its old content.
    """
    path = Path(path)
    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
        data = buffer.getvalue()
        atomic_write_bytes(path, lambda f: f.write(data))
    except OSError as e:
        raise write_failure("checkpoint", path, e, kept=_newest_other(path)) from None


def _newest_other(path: Path) -> Path | None:
    """The newest ``step-N.pt`` beside ``path`` other than ``path`` itself."""
    try:
        found = sorted((int(m.group(1)), p) for p in path.parent.iterdir()
                       if (m := CKPT_RE.match(p.name)) and p != path)
    except OSError:
        return None
    return found[-1][1] if found else None


def load_checkpoint(path: Path) -> dict:
    """The checkpoint dict at ``path``, its fields checked (:func:`check_checkpoint`).

    Raises :class:`CheckpointError` (one line) where the file is missing, unreadable,
    truncated, holds objects a weights-only load refuses (a pickle that would run code),
    or is not a well-formed ModeGuard checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a corrupt zip or pickle
        text = str(e).strip()
        if text.startswith("Weights only load failed"):
            # torch's message is a page long; the cause that matters fits in a line
            why = "not a PyTorch checkpoint, or it holds objects that a weights-only load refuses to build"
        else:
            why = text.splitlines()[0][:160] if text else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable or truncated ({why})") from None
    check_checkpoint(state, path)
    return state


def check_checkpoint(state, path) -> None:
    """Raise :class:`CheckpointError` naming the first field of ``state`` of the wrong type.

    ``step`` and ``G`` are required; a trainer checkpoint (one with ``format``) must hold
    every field of :data:`TRAINER_FIELDS`. ``G`` / ``D`` are dicts of tensors, the optimiser
    states dicts with ``state`` and ``param_groups``, ``rng`` / ``torch_rng`` 1-D uint8
    tensors, ``strategies`` / ``callbacks`` dicts keyed by name.
    """
    if not isinstance(state, dict) or "step" not in state or "G" not in state:
        raise CheckpointError(f"{path} is not a ModeGuard checkpoint")
    if "format" in state:
        missing = [k for k in TRAINER_FIELDS if k not in state]
        if missing:
            raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    for name, check in _FIELD_CHECKS.items():
        if name in state and not check(state[name]):
            raise CheckpointError(f"checkpoint {path}: '{name}' must be {_FIELD_WANTS[name]}, "
                                  f"got {_describe(state[name])}")


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_tensor_dict(v) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in v.items())


def _is_optimizer_state(v) -> bool:
    return (isinstance(v, dict) and isinstance(v.get("state"), dict) and isinstance(v.get("param_groups"), list)
            and all(isinstance(g, dict) for g in v["param_groups"])
            and all(isinstance(s, dict) for s in v["state"].values()))


def _is_rng_state(v) -> bool:
    return isinstance(v, torch.Tensor) and v.dtype == torch.uint8 and v.dim() == 1 and v.numel() > 0


def _is_named_dicts(v) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and isinstance(s, dict) for k, s in v.items())


def _is_format(v) -> bool:
    return _is_count(v) or (isinstance(v, float) and math.isfinite(v))


_FIELD_CHECKS = {
    "format": _is_format, "step": _is_count, "total_steps": _is_count, "G": _is_tensor_dict,
    "D": _is_tensor_dict, "opt_g": _is_optimizer_state, "opt_d": _is_optimizer_state, "rng": _is_rng_state,
    "torch_rng": _is_rng_state, "strategies": _is_named_dicts, "callbacks": _is_named_dicts,
}
_FIELD_WANTS = {
    "format": "a version number", "step": "a non-negative integer", "total_steps": "a non-negative integer",
    "G": "a dict of tensors", "D": "a dict of tensors", "opt_g": "an optimiser state",
    "opt_d": "an optimiser state", "rng": "a 1-D uint8 tensor", "torch_rng": "a 1-D uint8 tensor",
    "strategies": "a dict of states by name", "callbacks": "a dict of states by name",
}


def _describe(v) -> str:
    if isinstance(v, torch.Tensor):
        return f"a {v.dtype} tensor of shape {tuple(v.shape)}"
    text = repr(v)
    return f"{type(v).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def load_newest_checkpoint(run: RunDir) -> tuple[Path, dict, list[str]]:
    """The newest checkpoint of ``run`` that loads: ``(path, state, notes)``, where ``notes``
    says, one line each, which newer checkpoints were skipped and why.

    Raises :class:`CheckpointError` where the run has no checkpoint, or none loads.
    """
    ckpts = run.checkpoints()
    if not ckpts:
        raise CheckpointError(f"{run.path} has no checkpoints")
    notes: list[str] = []
    for _, path in reversed(ckpts):
        try:
            return path, load_checkpoint(path), notes
        except CheckpointError as e:
            notes.append(f"skipped {path.name}: {e}")
    raise CheckpointError(f"none of the {len(ckpts)} checkpoints of {run.path} loads ({notes[0]})")
