"""SGD with momentum for G and/or D (the article's remedy 2, "use SGD").

Adam's per-parameter step sizes let D sharpen quickly around the modes it already sees;
plain SGD (often on D only, with Adam on G) moves more slowly and evenly.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ._optim import OptimizerStrategy, nets_option
from .base import Option, register


@register
class SGD(OptimizerStrategy):
    """SGD with (Nesterov) momentum for the chosen networks: the article's remedy 2."""

    name = "sgd"
    summary = "SGD with (Nesterov) momentum for G and/or D instead of Adam"
    remedies = (2,)
    options = {
        "nets": nets_option(("d",), "networks trained with SGD: g, d or g+d"),
        "lr": Option(float, None, "learning rate (default: the config's lr_g / lr_d)", low=1e-12),
        "momentum": Option(float, 0.9, "momentum coefficient", low=0.0, high=0.999),
        "nesterov": Option(bool, False, "Nesterov momentum (needs momentum > 0)"),
    }

    def validate(self, config) -> None:
        if self.nesterov and self.momentum <= 0:
            raise ConfigError(f"strategy '{self.name}': option 'nesterov' needs momentum > 0")
        super().validate(config)

    def make_optimizer(self, params, lr, config):
        return torch.optim.SGD(params, lr=lr, momentum=self.momentum, nesterov=self.nesterov)
