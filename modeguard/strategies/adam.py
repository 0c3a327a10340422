"""Adam with per-network settings (e.g. beta1 = 0 on D only).

The trainer already uses Adam with the config's betas for both networks; this strategy
sets the learning rate and betas of one network without touching the other.
"""
from __future__ import annotations

from ..optim import LeanAdam
from ._optim import OptimizerStrategy, nets_option
from .base import Option, register


@register
class Adam(OptimizerStrategy):
    """Adam (fused) for the chosen networks, with its own learning rate and betas."""

    name = "adam"
    summary = "Adam with its own lr / betas for G and/or D"
    remedies = (2,)
    options = {
        "nets": nets_option(("g", "d"), "networks trained with this Adam: g, d or g+d"),
        "lr": Option(float, None, "learning rate (default: the config's lr_g / lr_d)", low=1e-12),
        "beta1": Option(float, None, "first-moment decay (default: the config's beta1)", low=0.0, high=0.999),
        "beta2": Option(float, None, "second-moment decay (default: the config's beta2)", low=0.0, high=0.9999),
    }

    def make_optimizer(self, params, lr, config):
        betas = (config.beta1 if self.beta1 is None else self.beta1,
                 config.beta2 if self.beta2 is None else self.beta2)
        return LeanAdam(params, lr=lr, betas=betas)
