"""WGAN-GP gradient penalty (Gulrajani et al. 2017).

weight * E (||grad_x D(x_hat)|| - center)^2 at random interpolates x_hat between real and
fake inputs. Keeping D's slope near 1 everywhere between the data and the samples makes it
a smooth critic whose gradient points every fake sample toward the data, not toward one
mode. ``center=0`` gives the zero-centred variant (Thanh-Tung 2019), which penalises
||grad||^2.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ._listing import d_has_batchnorm
from .base import Option, Strategy, register


def interpolate(real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Rows ``alpha * real + (1 - alpha) * fake``; ``alpha`` has shape ``(n,)``."""
    a = alpha.reshape(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    return a * real.detach() + (1 - a) * fake.detach()


def gradient_penalty(discriminate, x_hat: torch.Tensor, center: float = 1.0) -> torch.Tensor:
    """E_rows (||d D(x) / dx|| - center)^2 at ``x_hat`` ``(n, ...)``.

    A D with several outputs per input (several critics, class logits) is penalised once
    per output column, and the penalties summed.
    """
    x = x_hat.detach().requires_grad_(True)
    out = discriminate(x).reshape(len(x), -1)
    total = 0.0
    for k in range(out.shape[1]):
        (grad,) = torch.autograd.grad(out[:, k].sum(), x, create_graph=True)
        sq = grad.reshape(len(x), -1).pow(2).sum(1)
        if center == 0:
            total = total + sq.mean()  # no square root: its gradient is undefined at 0
        else:
            total = total + (torch.sqrt(sq + 1e-12) - center).pow(2).mean()
    return total


@register
class GradientPenalty(Strategy):
    name = "gp"
    summary = "gradient penalty at real/fake interpolates (WGAN-GP, Gulrajani 2017)"
    remedies = (8,)
    options = {
        "weight": Option(float, 10.0, "penalty weight lambda", low=0.0),
        "center": Option(float, 1.0, "target gradient norm (0 = zero-centred penalty)", low=0.0),
    }

    def validate(self, config):
        if config.loss in ("lsgan", "minimax"):
            raise ConfigError(f"strategy 'gp' is not designed for loss '{config.loss}' "
                              f"(use wgan, hinge or ns)")
        if d_has_batchnorm(config):
            raise ConfigError("strategy 'gp' cannot be used with batchnorm in D (batchnorm mixes the "
                              "samples, so a per-sample gradient penalty is invalid)")

    def d_loss(self, ctx, batch):
        real, fake = batch.real_in, batch.fake_in
        alpha = torch.rand(len(real), generator=ctx.rng).to(real.device)
        penalty = gradient_penalty(ctx.discriminate, interpolate(real, fake, alpha), self.center)
        ctx.stats["gp"] = penalty.detach()
        return self.weight * penalty
