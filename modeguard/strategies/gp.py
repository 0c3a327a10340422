"""WGAN-GP gradient penalty (Gulrajani et al. 2017).

weight * E (||grad_x D(x_hat)|| - center)^2 at random interpolates x_hat between real and
fake inputs. Keeping D's slope near 1 everywhere between the data and the samples makes it
a smooth critic whose gradient points every fake sample toward the data, not toward one
mode. ``center=0`` gives the zero-centred variant (Thanh-Tung 2019), which penalises
||grad||^2.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..remedies import gradient_penalty, interpolate, wgan_gp_penalty  # noqa: F401  (re-exported)
from ._listing import d_has_batchnorm
from .base import Option, Strategy, register
from .needs import D_WITHOUT_BATCHNORM


@register
class GradientPenalty(Strategy):
    """Adds :func:`modeguard.remedies.wgan_gp_penalty` to D's loss and logs it as ``gp``.
    Works on any differentiable D without batch norm."""

    double_backward = True
    name = "gp"
    summary = "gradient penalty at real/fake interpolates (WGAN-GP, Gulrajani 2017)"
    remedies = (8,)
    needs = (D_WITHOUT_BATCHNORM,)
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

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)  # a user D with batch norm makes the penalty invalid

    def d_loss(self, ctx, batch):
        penalty = wgan_gp_penalty(ctx.discriminate, batch.real_in, batch.fake_in, ctx.rng, self.center)
        ctx.stats["gp"] = penalty.detach()
        return self.weight * penalty
