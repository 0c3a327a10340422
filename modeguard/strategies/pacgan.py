"""PacGAN (Lin et al. 2018): D judges m samples at once.

Packing m samples into one D input lets D see a whole set's diversity: m samples from a
collapsed G look alike, m real samples do not, so collapse becomes visible to D and
costly to G.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from .base import Option, Strategy, register


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Concatenate groups of m consecutive samples.

    Points ``(B, *shape)`` -> ``(B/m, m * prod(shape))``; images ``(B, C, H, W)`` ->
    ``(B/m, m*C, H, W)`` (along channels, which a conv D reads as m images).
    """
    b = len(x)
    if x.dim() == 4:
        return x.reshape(b // m, m * x.shape[1], *x.shape[2:])
    return x.reshape(b // m, -1)


@register
class PacGAN(Strategy):
    name = "pacgan"
    summary = "D judges m samples packed into one input (Lin 2018)"
    remedies = (8,)
    order = 20  # sets the D input width before other model edits
    options = {
        "m": Option(int, 2, "samples packed into one D input", low=2, high=64),
    }

    def validate(self, config):
        if config.batch_size % self.m:
            raise ConfigError(f"strategy 'pacgan': batch_size {config.batch_size} must be divisible by "
                              f"option m={self.m}")

    def configure_models(self, spec, ctx):
        spec.d_pack = self.m

    def d_inputs(self, ctx, real, fake):
        return pack(real, self.m), pack(fake, self.m)
