"""Adaptive learning rate (the article's remedy 10), driven by D's real/fake balance.

Like ADA's overfitting heuristic (Karras et al. 2020), a controller watches how often D
calls real data real. Above the target band D is winning: its lr is lowered (and/or G's
raised) by ``factor``; below it, the reverse. A D that wins outright gives G vanishing or
single-mode gradients; one that loses gives G no direction at all.

The scales multiply each optimizer's base lr (``group['initial_lr']``), so the controller
composes with ``ttur`` and ``lr-schedule``.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ._optim import nets_option, optimizer_of, set_lr_factor
from .base import Option, Strategy, register


@register
class AdaptiveLR(Strategy):
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
        self.scales = {"g": 1.0, "d": 1.0}
        self._acc_sum = torch.zeros(())
        self._acc_count = 0

    def _apply(self, ctx) -> None:
        for net in self.nets:
            set_lr_factor(optimizer_of(ctx, net), "adaptive", self.scales[net])
            ctx.stats[f"lr_scale_{net}"] = self.scales[net]

    def configure_optimizers(self, ctx) -> None:
        self._apply(ctx)

    def after_step(self, ctx) -> None:
        batch = ctx.last_d_batch
        if batch is None or batch.d_real is None:
            return
        score = ctx.objective.real_score(batch.d_real.detach())
        # summed as a tensor: no device sync until the interval ends
        self._acc_sum = self._acc_sum.to(score.device) + (score > 0).float().mean()
        self._acc_count += 1
        if ctx.step % self.interval:
            return
        accuracy = float(self._acc_sum) / self._acc_count
        self._acc_sum, self._acc_count = torch.zeros(()), 0
        ctx.stats["d_real_acc_avg"] = accuracy
        if accuracy > self.target + self.margin:  # D wins: slow D down, speed G up
            step = {"d": 1.0 / self.factor, "g": self.factor}
        elif accuracy < self.target - self.margin:
            step = {"d": self.factor, "g": 1.0 / self.factor}
        else:
            return
        for net in self.nets:
            self.scales[net] = min(self.max_scale, max(self.min_scale, self.scales[net] * step[net]))
        self._apply(ctx)

    def state_dict(self):
        return {"scales": dict(self.scales), "acc_sum": float(self._acc_sum), "acc_count": self._acc_count}

    def load_state_dict(self, state):
        self.scales.update({k: float(v) for k, v in state.get("scales", {}).items()})
        self._acc_sum = torch.tensor(float(state.get("acc_sum", 0.0)))
        self._acc_count = int(state.get("acc_count", 0))
