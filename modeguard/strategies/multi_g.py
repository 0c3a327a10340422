"""MAD-GAN: several generators and a (K+1)-way discriminator (Ghosh et al. 2018).

K generators each produce a share of every batch. D is a classifier with K+1 classes:
class i means "made by generator i", class K means "real". Because D must also tell the
generators apart, they are pushed towards different modes; each generator only needs to
fool D's "real" class.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ._listing import listed
from .base import Option, Strategy, register
from .needs import PRESET_MODELS


class MADObjective:
    """Cross-entropy game over D's ``(n, K+1)`` logits; the last class is "real"."""

    def __init__(self, loss_name: str, k: int):
        self.saturating = loss_name == "minimax"
        self.k = k

    @staticmethod
    def fake_labels(ctx, batch) -> torch.Tensor:
        """Generator index of each row D sees; packed rows (PacGAN) take their first sample's."""
        labels = ctx.G.labels(len(batch.fake), device=batch.fake_in.device)
        rows = len(batch.fake_in)
        return labels.view(rows, -1)[:, 0] if rows != len(labels) else labels

    def d_loss(self, ctx, batch) -> torch.Tensor:
        """Cross entropy of "real" on the reals and of each fake's generator index on the fakes."""
        batch.d_real = ctx.discriminate(batch.real_in)
        batch.d_fake = ctx.discriminate(batch.fake_in)
        real_class = torch.full((len(batch.d_real),), self.k, dtype=torch.long, device=batch.d_real.device)
        return (F.cross_entropy(batch.d_real, real_class)
                + F.cross_entropy(batch.d_fake, self.fake_labels(ctx, batch)))

    def g_loss(self, ctx, batch) -> torch.Tensor:
        """Every generator's loss against D's "real" class (saturating for minimax, else not)."""
        batch.d_fake = ctx.discriminate(batch.fake_in)
        log_p = torch.log_softmax(batch.d_fake, dim=1)
        if self.saturating:
            # minimise log(1 - p_real) = log sum_{i<K} p_i
            return torch.logsumexp(log_p[:, :self.k], dim=1).mean()
        return -log_p[:, self.k].mean()  # non-saturating: maximise log p_real

    def real_score(self, d_out: torch.Tensor) -> torch.Tensor:
        """log(p_real / (1 - p_real)) per input: > 0 when D finds "real" the likelier answer."""
        return d_out[:, self.k] - torch.logsumexp(d_out[:, :self.k], dim=1)


@register
class MultiG(Strategy):
    """Builds K generators and a (K+1)-way D through ModeGuard's ModelSpec and installs
    :class:`MADObjective`; user models are refused (their D has one output, not K+1)."""

    name = "multi-g"
    summary = "K generators and a (K+1)-way discriminator (MAD-GAN, Ghosh 2018)"
    remedies = (6,)
    needs = (PRESET_MODELS,)
    order = 20  # builds the networks and installs the objective others may wrap
    options = {
        "k": Option(int, 4, "number of generators", low=2, high=64),
    }

    def validate(self, config):
        if config.loss not in ("ns", "minimax"):
            raise ConfigError(f"strategy 'multi-g' needs loss ns or minimax (D is a (K+1)-way classifier), "
                              f"got loss '{config.loss}'")
        if config.batch_size % self.k:
            raise ConfigError(f"strategy 'multi-g': batch_size {config.batch_size} must be divisible by "
                              f"option k={self.k} (every generator gets an equal share)")
        if "multi-d" in listed(config):
            raise ConfigError("strategy 'multi-g' cannot be combined with 'multi-d' "
                              "(multi-g's D is one (K+1)-way classifier)")

    def configure_models(self, spec, ctx):
        spec.num_generators = self.k
        spec.d_out = self.k + 1

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)
        share = ctx.config.batch_size // self.k
        if share % ctx.spec.d_pack:
            raise ConfigError(f"strategy 'multi-g': each generator's share of the batch ({share}) must be "
                              f"divisible by the packing degree {ctx.spec.d_pack} so packs hold one generator")
        ctx.objective = MADObjective(ctx.config.loss, self.k)
