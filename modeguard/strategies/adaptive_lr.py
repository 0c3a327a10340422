"""Adaptive learning rate (the article's remedy 10), driven by D's real/fake balance.

Like ADA's overfitting heuristic (Karras et al. 2020), a controller watches how often D
calls real data real. Above the target band D is winning: its lr is lowered (and/or G's
raised) by ``factor``; below it, the reverse. A D that wins outright gives G vanishing or
single-mode gradients; one that loses gives G no direction at all.

The controller is :class:`modeguard.remedies.AdaptiveLRController`; its scales multiply
each optimizer's base lr (``group['initial_lr']``), so it composes with ``ttur`` and
``lr-schedule``.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..remedies import AdaptiveLRController
from ._optim import nets_option
from .base import Option, Strategy, register


@register
class AdaptiveLR(Strategy):
    """Feeds D's real scores to an :class:`~modeguard.remedies.AdaptiveLRController` every
    step and lets it adjust the rates every ``interval`` steps; logs ``d_real_acc_avg`` and
    ``lr_scale_<net>``. Works on any model."""

    name = "adaptive-lr"
    summary = "controller that lowers D's lr when D wins and raises it when D loses (cf. ADA)"
    remedies = (10,)
    order = 80  # after every strategy that builds optimizers or sets their base lr
    options = {
        "interval": Option(int, 100, "steps between adjustments (D's accuracy is averaged over them)", low=1),
        "target": Option(float, 0.7, "desired fraction of real samples D calls real", low=0.0, high=1.0),
        "margin": Option(float, 0.1, "no adjustment while |accuracy - target| <= margin", low=0.0, high=0.5),
        "factor": Option(float, 1.25, "multiplier per adjustment", low=1.0),
        "min_scale": Option(float, 0.1, "lowest lr scale (of the base lr)", low=1e-6),
        "max_scale": Option(float, 2.0, "highest lr scale (of the base lr)", low=1e-6),
        "nets": nets_option(("d",), "whose lr moves: d (down when D wins), g (up when D wins) or g+d"),
    }

    def __init__(self, **opts):
        super().__init__(**opts)
        if self.min_scale > 1.0 or self.max_scale < 1.0:
            raise ConfigError(f"strategy '{self.name}': options 'min_scale' <= 1 <= 'max_scale' are needed, "
                              f"got {self.min_scale} and {self.max_scale}")
        self.controller = AdaptiveLRController(self.target, self.margin, self.factor, self.min_scale,
                                               self.max_scale, self.nets)

    @property
    def scales(self) -> dict[str, float]:
        """The controller's current lr scales ``{"g": ..., "d": ...}``."""
        return self.controller.scales

    def _apply(self, ctx) -> None:
        self.controller.apply(ctx.opt_g, ctx.opt_d)
        for net in self.nets:
            ctx.stats[f"lr_scale_{net}"] = self.controller.scales[net]

    def configure_optimizers(self, ctx) -> None:
        self._apply(ctx)

    def after_step(self, ctx) -> None:
        batch = ctx.last_d_batch
        if batch is None or batch.d_real is None:
            return
        self.controller.observe(ctx.objective.real_score(batch.d_real.detach()))
        if ctx.step % self.interval:
            return
        ctx.stats["d_real_acc_avg"] = self.controller.adjust()
        self._apply(ctx)

    def state_dict(self):
        return self.controller.state_dict()

    def load_state_dict(self, state):
        self.controller.load_state_dict(state)
