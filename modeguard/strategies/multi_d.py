"""GMAN: several discriminators (Durugkar et al. 2016).

K discriminators judge the same batch. D's loss is the sum of their base losses; G's loss
combines the K per-discriminator G losses: ``mean`` (lenient), ``max`` (G answers to the
harshest critic) or ``soft`` (softmax-weighted mean with temperature ``lam``: 0 is the
mean, large values approach the max). Several critics disagree about which mode to punish,
so G is not chased from one mode to the next by a single critic's blind spot.

With ModeGuard's models the K discriminators are built from its ModelSpec. With a user D
the generic form applies: D itself plus K - 1 copies re-initialised through their layers'
``reset_parameters()``, side by side in a :class:`~modeguard.models.MultiDiscriminator`.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import ConfigError
from ..models.ensembles import MultiDiscriminator
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


def fresh_copy(D: nn.Module) -> nn.Module:
    """A deep copy of ``D`` with every layer re-initialised by its ``reset_parameters()``
    (drawn from torch's global generator). Raises ConfigError when no layer has one, since
    identical copies would train identically."""
    twin = copy.deepcopy(D)
    layers = [m for m in twin.modules() if callable(getattr(m, "reset_parameters", None))]
    if not layers:
        raise ConfigError(f"strategy 'multi-d' needs a discriminator whose layers have reset_parameters() "
                          f"(to make K independent copies); {type(D).__name__} has none")
    for m in layers:
        m.reset_parameters()
    return twin


def replicate_discriminator(D: nn.Module, k: int) -> MultiDiscriminator:
    """``D`` and ``k - 1`` freshly initialised copies as one D with output ``(n, k)``."""
    return MultiDiscriminator([D, *(fresh_copy(D) for _ in range(k - 1))])


class MultiDObjective:
    """The adversarial objective with D's output ``(n, K)``: one column per discriminator."""

    def __init__(self, loss, aggregate: str, lam: float):
        self.loss = loss
        self.aggregate = aggregate
        self.lam = lam

    def d_loss(self, ctx, batch) -> torch.Tensor:
        """Sum over the K columns of the base D loss; fills ``batch.d_real`` / ``d_fake`` ``(n, K)``."""
        batch.d_real = ctx.discriminate(batch.real_in)
        batch.d_fake = ctx.discriminate(batch.fake_in)
        cols = range(batch.d_real.shape[1])
        return sum(self.loss.d(batch.d_real[:, k], batch.d_fake[:, k]) for k in cols)

    def per_discriminator_g_losses(self, d_fake: torch.Tensor) -> torch.Tensor:
        """``(K,)``: G's base loss against each discriminator."""
        return torch.stack([self.loss.g(d_fake[:, k]) for k in range(d_fake.shape[1])])

    def g_loss(self, ctx, batch) -> torch.Tensor:
        """The K per-discriminator G losses combined by ``aggregate``; fills ``batch.d_fake``."""
        batch.d_fake = ctx.discriminate(batch.fake_in)
        losses = self.per_discriminator_g_losses(batch.d_fake)
        return aggregate_losses(losses, self.aggregate, self.lam)

    def real_score(self, d_out: torch.Tensor) -> torch.Tensor:
        """The discriminators' mean logit/critic value per input (> 0: "real")."""
        return d_out.reshape(len(d_out), -1).mean(1)


@register
class MultiD(Strategy):
    """K discriminators (ModeGuard's spec, or :func:`replicate_discriminator` for a user D)
    judged by :class:`MultiDObjective`."""

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
        if not isinstance(ctx.D, MultiDiscriminator):  # a user D: the spec edit did not apply
            ctx.D = replicate_discriminator(ctx.D, self.k)
        ctx.objective = MultiDObjective(ctx.loss, self.aggregate, self.lam)
