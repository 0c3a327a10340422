"""R1 penalty (Mescheder et al. 2018): (gamma / 2) * E_real ||grad_x D(x)||^2.

Penalising D's gradient on real data keeps D from sharpening around the modes it already
sees, which is what lets G's samples be pushed away from a single mode.
"""
from __future__ import annotations

from ..remedies import r1_penalty, r1_penalty_at
from .base import Option, Strategy, register


@register
class R1(Strategy):
    """Adds :func:`modeguard.remedies.r1_penalty` to D's loss (every ``every`` D steps, weight
    scaled by ``every``) and logs the penalty as ``r1``. Works on any differentiable D."""

    double_backward = True
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

    def wants_real_grad(self, ctx) -> bool:
        return (self._calls + 1) % self.every == 0  # the coming d_loss applies the penalty

    def d_loss(self, ctx, batch):
        self._calls += 1
        if self._calls % self.every:
            return None
        if batch.real_in.requires_grad and batch.d_real is not None and batch.d_real.requires_grad:
            penalty = r1_penalty_at(batch.d_real, batch.real_in)  # D's forward on reals, shared
        else:
            penalty = r1_penalty(ctx.discriminate, batch.real_in)
        ctx.stats["r1"] = penalty.detach()
        return 0.5 * self.gamma * self.every * penalty

    def state_dict(self):
        return {"calls": self._calls}

    def load_state_dict(self, state):
        self._calls = int(state.get("calls", 0))
