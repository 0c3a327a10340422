"""Exponential moving average of G's weights (Yazici et al. 2019), used for sampling.

The training G oscillates around the equilibrium; its running average does not, so the
averaged G samples every mode the oscillation visits, with less jitter. The average is
:class:`modeguard.remedies.EMA`; this strategy builds it in ``setup``, updates it after
every step and samples from it.
"""
from __future__ import annotations

from ..remedies import EMA
from .base import Option, Strategy, register


@register
class EMAStrategy(Strategy):
    """Keeps a :class:`~modeguard.remedies.EMA` of ``ctx.G`` and makes it the evaluation
    generator. Works on any G (the copy is a ``deepcopy``)."""

    name = "ema"
    summary = "sample from an exponential moving average of G's weights (Yazici 2019)"
    remedies = (7,)
    order = 90  # copy G after every other setup edit
    options = {
        "beta": Option(float, 0.999, "decay per step: ema = beta * ema + (1 - beta) * G", low=0.0, high=1.0),
        "start": Option(int, 0, "step before which the average just copies G", low=0),
    }

    def setup(self, ctx):
        self.average = EMA(ctx.G, self.beta)

    @property
    def G_ema(self):
        """The averaged generator (an ``nn.Module`` in eval mode)."""
        return self.average.module

    def after_step(self, ctx):
        # before `start` the average just follows G (beta 0)
        self.average.update(None if ctx.step > self.start else 0.0)

    def eval_generator(self, ctx, G):
        return self.average.module

    def state_dict(self):
        return {"G_ema": self.average.state_dict()}

    def load_state_dict(self, state):
        if "G_ema" in state:
            self.average.load_state_dict(state["G_ema"])
