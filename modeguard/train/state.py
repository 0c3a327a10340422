"""A run's state as one checkpoint dict, and the checks made before writing it.

Format 2 adds ``callbacks`` (each callback's ``state_dict`` under its ``state_key``) to
format 1's step, models, optimizers, RNG states and strategies' states; format-1
checkpoints still load (their callbacks start fresh). A run whose real batches come from
worker processes (``loader_workers > 0``) also records ``data_batches``, the batches drawn.
"""
from __future__ import annotations

import math

import torch

from ..errors import CheckpointError
from .context import TrainContext

FORMAT = 2


def collect_state(ctx: TrainContext, callbacks: list) -> dict:
    """Everything a resume needs to continue ``ctx`` exactly: a dict of tensors and
    Python scalars that ``torch.load(weights_only=True)`` reads back."""
    carried = {}
    for cb in callbacks:
        state = cb.state_dict()
        if state:
            carried[cb.state_key] = state
    return {
        "format": FORMAT,
        "step": ctx.step,
        "total_steps": ctx.total_steps,
        "G": ctx.G.state_dict(),
        "D": ctx.D.state_dict(),
        "opt_g": ctx.opt_g.state_dict(),
        "opt_d": ctx.opt_d.state_dict(),
        "rng": ctx.rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "strategies": {s.name: s.state_dict() for s in ctx.strategies},
        "callbacks": carried,
        **({"data_batches": ctx.loader.position} if ctx.loader is not None else {}),
    }


def restore_state(ctx: TrainContext, callbacks: list, state: dict) -> None:
    """Load ``state`` (from :func:`collect_state`) into ``ctx`` and the callbacks.

    Raises :class:`CheckpointError` (one line) when the state does not fit the models.
    """
    try:
        ctx.G.load_state_dict(state["G"])
        ctx.D.load_state_dict(state["D"])
        ctx.opt_g.load_state_dict(state["opt_g"])
        ctx.opt_d.load_state_dict(state["opt_d"])
        ctx.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        for s in ctx.strategies:
            s.load_state_dict(state.get("strategies", {}).get(s.name, {}))
    except (KeyError, RuntimeError, ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint does not match this run's models "
                              f"({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None
    carried = state.get("callbacks", {})
    for cb in callbacks:
        if cb.state_key in carried:
            cb.load_state_dict(carried[cb.state_key])
    restore_data_position(ctx, state)
    ctx.step = int(state["step"])


def restore_data_position(ctx: TrainContext, state: dict) -> None:
    """Where the loader's workers go on: the real batches the checkpoint's run had drawn."""
    if ctx.loader is not None:
        ctx.loader.seek(int(state.get("data_batches", 0)))


def nonfinite_parts(ctx: TrainContext) -> list[str]:
    """Names of what holds NaN/inf: ``G``, ``D`` and strategies whose state does."""
    bad = [name for name, net in (("G", ctx.G), ("D", ctx.D)) if not _all_finite(net.state_dict())]
    bad += [f"strategy {s.name}" for s in ctx.strategies if not _all_finite(s.state_dict())]
    return bad


def _all_finite(value) -> bool:
    """True where every tensor and float inside ``value`` (nested dicts/lists) is finite."""
    tensors: list[torch.Tensor] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, torch.Tensor):
            if v.is_floating_point() or v.is_complex():
                tensors.append(v)
        elif isinstance(v, float):
            if not math.isfinite(v):
                return False
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    if not tensors:
        return True
    # one read-back for all tensors, not one per tensor
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
