"""Learning-rate warmup and decay (the article's remedy 1, "tune the learning rate").

A short linear warmup keeps the first, largest gradients of an untrained D from throwing G
onto one mode; a decay at the end shrinks the oscillation around the equilibrium so the
final G sits on every mode rather than orbiting between them.

The factor multiplies each optimizer's base rate (``group['initial_lr']``), so it
composes with ``ttur``, the optimizer strategies and ``adaptive-lr``.
"""
from __future__ import annotations

from ..remedies import schedule_factor, set_lr_factor
from ..remedies.lr import SCHEDULE_KINDS
from ._optim import nets_option, optimizer_of
from .base import Option, Strategy, register


@register
class LRSchedule(Strategy):
    """Sets :func:`modeguard.remedies.schedule_factor` as the ``schedule`` factor of the
    chosen optimizers before every update; logs it as ``lr_factor``. Works on any model."""

    name = "lr-schedule"
    summary = "learning-rate warmup then constant / step / cosine / linear decay"
    remedies = (1,)
    order = 80  # after every strategy that builds optimizers or sets their base lr
    options = {
        "warmup": Option(int, 100, "linear warmup over this many steps (0 = none)", low=0),
        "kind": Option(str, "cosine", "decay after warmup", choices=SCHEDULE_KINDS),
        "final": Option(float, 0.1, "fraction of the base lr at the end (cosine, linear); floor for step",
                        low=0.0, high=1.0),
        "step_every": Option(int, 2500, "step decay: multiply by step_gamma every this many steps", low=1),
        "step_gamma": Option(float, 0.5, "step decay multiplier", low=0.0, high=1.0),
        "nets": nets_option(("g", "d"), "networks whose lr follows the schedule: g, d or g+d"),
    }

    def factor(self, step: int, total: int) -> float:
        """The fraction of the base lr for update ``step`` of ``total``."""
        return schedule_factor(step, total, self.warmup, self.kind, self.final, self.step_every, self.step_gamma)

    def _apply(self, ctx) -> None:
        f = self.factor(ctx.step, ctx.total_steps)
        for net in self.nets:
            set_lr_factor(optimizer_of(ctx, net), "schedule", f)
        ctx.stats["lr_factor"] = f

    def configure_optimizers(self, ctx) -> None:
        self._apply(ctx)  # the first update already uses the schedule

    def after_step(self, ctx) -> None:
        self._apply(ctx)  # rate for the next update, ctx.step
