"""GMAN: several discriminators (Durugkar et al. 2016).

K discriminators judge the same batch. D's loss is the sum of their base losses; G's loss
combines the K per-discriminator G losses: ``mean`` (lenient), ``max`` (G answers to the
harshest critic) or ``soft`` (softmax-weighted mean with temperature ``lam``: 0 is the
mean, large values approach the max). Several critics disagree about which mode to punish,
so G is not chased from one mode to the next by a single critic's blind spot.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ._listing import listed
from .base import Option, Strategy, register


def aggregate_losses(losses: torch.Tensor, how: str, lam: float) -> torch.Tensor:
    """Combine K per-discriminator G losses ``(K,)`` into one scalar.

    ``soft``: sum_k w_k L_k with w = softmax(lam * L) (weights treated as constants, so
    each critic's gradient is scaled by its weight, as in GMAN's soft-mean).
    """
    if how == "mean":
        return losses.mean()
    if how == "max":
        return losses.max()
    weights = torch.softmax(lam * losses.detach(), dim=0)
    return (weights * losses).sum()


class MultiDObjective:
    """The adversarial objective with D's output ``(n, K)``: one column per discriminator."""

    def __init__(self, loss, aggregate: str, lam: float):
        self.loss = loss
        self.aggregate = aggregate
        self.lam = lam

    def d_loss(self, ctx, batch) -> torch.Tensor:
        batch.d_real = ctx.discriminate(batch.real_in)
        batch.d_fake = ctx.discriminate(batch.fake_in)
        cols = range(batch.d_real.shape[1])
        return sum(self.loss.d(batch.d_real[:, k], batch.d_fake[:, k]) for k in cols)

    def per_discriminator_g_losses(self, d_fake: torch.Tensor) -> torch.Tensor:
        """``(K,)``: G's base loss against each discriminator."""
        return torch.stack([self.loss.g(d_fake[:, k]) for k in range(d_fake.shape[1])])

    def g_loss(self, ctx, batch) -> torch.Tensor:
        batch.d_fake = ctx.discriminate(batch.fake_in)
        losses = self.per_discriminator_g_losses(batch.d_fake)
        return aggregate_losses(losses, self.aggregate, self.lam)

    def real_score(self, d_out: torch.Tensor) -> torch.Tensor:
        """The discriminators' mean logit/critic value per input (> 0: "real")."""
        return d_out.reshape(len(d_out), -1).mean(1)


@register
class MultiD(Strategy):
    name = "multi-d"
    summary = "K discriminators, G answers to their mean / max / soft-mean (GMAN, Durugkar 2016)"
    remedies = (5,)
    order = 20  # builds the networks and installs the objective others may wrap
    options = {
        "k": Option(int, 3, "number of discriminators", low=2, high=32),
        "aggregate": Option(str, "mean", "how G combines the K losses", choices=("mean", "max", "soft")),
        "lam": Option(float, 1.0, "soft-mean temperature (0 = mean, large = max)", low=0.0, high=1000.0),
    }

    def validate(self, config):
        if "multi-g" in listed(config):
            raise ConfigError("strategy 'multi-d' cannot be combined with 'multi-g' "
                              "(multi-g's D is one (K+1)-way classifier)")

    def configure_models(self, spec, ctx):
        spec.num_discriminators = self.k

    def setup(self, ctx):
        ctx.objective = MultiDObjective(ctx.loss, self.aggregate, self.lam)
