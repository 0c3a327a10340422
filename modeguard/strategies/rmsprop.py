"""RMSprop for G and/or D (as in the original WGAN, Arjovsky 2017).

No momentum: the step follows the current gradient, which avoids the overshooting that
momentum causes in the rotating dynamics of a two-player game.
"""
from __future__ import annotations

import torch

from ._optim import OptimizerStrategy, nets_option
from .base import Option, register


@register
class RMSprop(OptimizerStrategy):
    """RMSprop without momentum for the chosen networks (the optimizer WGAN used)."""

    name = "rmsprop"
    summary = "RMSprop (no momentum) for G and/or D"
    remedies = (2,)
    options = {
        "nets": nets_option(("g", "d"), "networks trained with RMSprop: g, d or g+d"),
        "lr": Option(float, None, "learning rate (default: the config's lr_g / lr_d)", low=1e-12),
        "alpha": Option(float, 0.99, "decay of the squared-gradient average", low=0.0, high=0.9999),
    }

    def make_optimizer(self, params, lr, config):
        return torch.optim.RMSprop(params, lr=lr, alpha=self.alpha)
