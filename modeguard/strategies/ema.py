"""Exponential moving average of G's weights (Yazici et al. 2019), used for sampling.

The training G oscillates around the equilibrium; its running average does not, so the
averaged G samples every mode the oscillation visits, with less jitter.
"""
from __future__ import annotations

import copy

import torch

from .base import Option, Strategy, register


@register
class EMA(Strategy):
    name = "ema"
    summary = "sample from an exponential moving average of G's weights (Yazici 2019)"
    remedies = (7,)
    order = 90  # copy G after every other setup edit
    options = {
        "beta": Option(float, 0.999, "decay per step: ema = beta * ema + (1 - beta) * G", low=0.0, high=1.0),
        "start": Option(int, 0, "step before which the average just copies G", low=0),
    }

    def setup(self, ctx):
        self.G_ema = copy.deepcopy(ctx.G).eval()
        for p in self.G_ema.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def after_step(self, ctx):
        beta = self.beta if ctx.step > self.start else 0.0
        ema_p = list(self.G_ema.parameters())
        g_p = list(ctx.G.parameters())
        torch._foreach_lerp_(ema_p, g_p, 1.0 - beta)
        for b_ema, b in zip(self.G_ema.buffers(), ctx.G.buffers()):
            b_ema.copy_(b)

    def eval_generator(self, ctx, G):
        return self.G_ema

    def state_dict(self):
        return {"G_ema": self.G_ema.state_dict()}

    def load_state_dict(self, state):
        if "G_ema" in state:
            self.G_ema.load_state_dict(state["G_ema"])
