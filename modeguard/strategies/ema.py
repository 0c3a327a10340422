"""Exponential moving average of G's weights (Yazici et al. 2019), used for sampling.

The training G oscillates around the equilibrium; its running average does not, so the
averaged G samples every mode the oscillation visits, with less jitter. The average is
:class:`modeguard.remedies.EMA`; this strategy builds it in ``setup``, updates it after
every step and samples from it.

``tail=F`` turns the last share F of the run into a uniform (Polyak) average: from the step
where the tail starts, the k-th update weighs G 1/(k+1), so at the end the copy is the plain
mean of the tail start's average and every G of the tail, batch-norm statistics included.
Late in a run with a decayed lr an EMA of 1,000 steps equals G within noise; the tail average
spans far more training (Yazici et al. 2019 compare both).
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
        "tail": Option(float, 0.0, "share of the run, at its end, averaged uniformly (0: EMA throughout)",
                       low=0.0, high=1.0),
    }

    def setup(self, ctx):
        self.average = EMA(ctx.G, self.beta)

    @property
    def G_ema(self):
        """The averaged generator (an ``nn.Module`` in eval mode)."""
        return self.average.module

    def tail_start(self, ctx) -> int:
        """The step after which the average is uniform (``total_steps`` where ``tail`` is 0)."""
        return ctx.total_steps - int(round(self.tail * ctx.total_steps))

    def update_args(self, ctx) -> tuple[float | None, bool]:
        """This step's ``(beta, stats)`` for :meth:`EMA.update` (``beta`` None: the decay)."""
        k = ctx.step - self.tail_start(ctx)
        if self.tail and k > 0:  # the k-th tail update: weight 1 / (k + 1), a running mean
            return k / (k + 1), True
        return (None if ctx.step > self.start else 0.0), False  # before `start`: a copy of G

    def after_step(self, ctx):
        beta, stats = self.update_args(ctx)
        self.average.update(beta, stats=stats)

    def eval_generator(self, ctx, G):
        return self.average.module

    def state_dict(self):
        return {"G_ema": self.average.state_dict()}

    def load_state_dict(self, state):
        if "G_ema" in state:
            self.average.load_state_dict(state["G_ema"])
