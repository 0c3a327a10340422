"""Spectral normalization (Miyato et al. 2018): every Linear / Conv weight of D divided by
its largest singular value, estimated by power iteration.

That bounds D's Lipschitz constant by 1 (with 1-Lipschitz activations), so D cannot form
the arbitrarily sharp peaks that pull all of G's samples onto one mode. The power
iteration's u / v vectors are buffers of D, so they are saved in every checkpoint.
"""
from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ._optim import nets_option
from .base import Option, Strategy, register

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)


def spectral_normalize(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Parametrize the weight of every Linear / Conv inside ``module``; returns how many."""
    layers = [m for m in module.modules() if isinstance(m, LAYERS)]
    for m in layers:
        spectral_norm(m, n_power_iterations=n_power_iterations)
    return len(layers)


@register
class SpectralNorm(Strategy):
    name = "spectral-norm"
    summary = "spectral normalization of every Linear/Conv weight of D (Miyato 2018)"
    remedies = (3, 8)
    order = 60  # after architecture edits and warm start (40), before freezing (70) and EMA (90)
    options = {
        "nets": nets_option(("d",), "networks to normalise: d, g or g+d"),
        "n_power_iterations": Option(int, 1, "power-iteration steps per forward pass in training", low=1),
    }

    def setup(self, ctx) -> None:
        for net in self.nets:
            spectral_normalize(ctx.G if net == "g" else ctx.D, self.n_power_iterations)
