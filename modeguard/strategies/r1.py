"""R1 penalty (Mescheder et al. 2018): (gamma / 2) * E_real ||grad_x D(x)||^2.

Penalising D's gradient on real data keeps D from sharpening around the modes it already
sees, which is what lets G's samples be pushed away from a single mode.
"""
from __future__ import annotations

import torch

from .base import Option, Strategy, register


def gradient_penalty_r1(discriminate, real: torch.Tensor) -> torch.Tensor:
    """E ||d D(x) / dx||^2 over the rows of ``real`` (D's outputs summed per row)."""
    x = real.detach().requires_grad_(True)
    out = discriminate(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(len(x), -1).pow(2).sum(1).mean()


@register
class R1(Strategy):
    name = "r1"
    summary = "R1 gradient penalty on real data (Mescheder 2018)"
    remedies = (8,)
    options = {
        "gamma": Option(float, 1.0, "penalty weight (gamma / 2 * ||grad||^2)", low=0.0),
        "every": Option(int, 1, "apply every N D steps (lazy regularisation, weight scaled by N)", low=1),
    }

    def __init__(self, **opts):
        super().__init__(**opts)
        self._calls = 0

    def d_loss(self, ctx, batch):
        self._calls += 1
        if self._calls % self.every:
            return None
        penalty = gradient_penalty_r1(ctx.discriminate, batch.real_in)
        ctx.stats["r1"] = penalty.detach()
        return 0.5 * self.gamma * self.every * penalty

    def state_dict(self):
        return {"calls": self._calls}

    def load_state_dict(self, state):
        self._calls = int(state.get("calls", 0))
