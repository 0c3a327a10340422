"""Moving a healthy checkpoint's weights into a trainer whose config a heal amended.

Everything whose shape still fits is loaded: G, D, both optimizers' moments and the
strategies' states. When D's shape changed (``pacgan`` widens its input;
``spectral-norm`` renames its weights), D and its optimizer start fresh and G keeps its
weights and moments: a fresh D relearns the current G within a few hundred steps, while a
G restarted from scratch would lose the work. The learning rates are those of the amended
config, not the checkpoint's.
"""
from __future__ import annotations

import torch

from ...errors import CheckpointError
from ...train.state import restore_data_position

def transplant(trainer, state: dict) -> list[str]:
    """Load a checkpoint ``state`` into a trainer whose config was amended.

    Loads everything whose shape fits; returns notes on what started fresh. The
    optimizers keep the learning rates the new trainer was built with."""
    ctx = trainer.ctx
    fresh_lrs = [[g["lr"] for g in opt.param_groups] for opt in (ctx.opt_g, ctx.opt_d)]
    try:
        trainer.load_state_dict(state)
        notes: list[str] = []
    except CheckpointError:
        notes = _load_piecewise(trainer, state)
    for opt, lrs in zip((ctx.opt_g, ctx.opt_d), fresh_lrs):
        for group, lr in zip(opt.param_groups, lrs):
            group["lr"] = lr
            if "initial_lr" in group:
                group["initial_lr"] = lr
    return notes


def _load_piecewise(trainer, state: dict) -> list[str]:
    ctx = trainer.ctx
    notes = []

    def load(module, key) -> bool:
        try:
            module.load_state_dict(state[key])
            return True
        except (KeyError, RuntimeError, ValueError):
            return False

    g_ok = load(ctx.G, "G")
    if not g_ok:
        notes.append("G started fresh (its layers changed)")
    elif not load(ctx.opt_g, "opt_g"):
        notes.append("G's optimizer state was reset")
    if not load(ctx.D, "D"):
        notes.append("D started fresh (its input or layers changed), G kept its weights")
    elif not load(ctx.opt_d, "opt_d"):
        notes.append("D's optimizer state was reset")
    for s in ctx.strategies:
        saved = state.get("strategies", {}).get(s.name)
        if saved is None:
            continue
        try:
            s.load_state_dict(saved)
        except Exception:  # a strategy whose state no longer fits starts fresh
            notes.append(f"{s.name} started fresh")
    ctx.rng.set_state(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    restore_data_position(ctx, state)
    ctx.step = int(state["step"])
    return notes
