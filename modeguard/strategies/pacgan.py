"""PacGAN (Lin et al. 2018): D judges m samples at once.

Packing m samples into one D input lets D see a whole set's diversity: m samples from a
collapsed G look alike, m real samples do not, so collapse becomes visible to D and
costly to G.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ..models.user import pack_samples
from .base import Option, Strategy, register
from .needs import PACK_FACTORY


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Concatenate groups of m consecutive samples (the layout every packed D reads).

    Points ``(B, *shape)`` -> ``(B/m, m * prod(shape))``; images ``(B, C, H, W)`` ->
    ``(B/m, m*C, H, W)`` (along channels, which a conv D reads as m images).
    """
    return pack_samples(x, m)


@register
class PacGAN(Strategy):
    """Sets ``d_pack`` on the ModelSpec (ModeGuard's builders and a user factory that accepts
    ``pack`` build D for it) and packs D's inputs in both phases."""

    name = "pacgan"
    summary = "D judges m samples packed into one input (Lin 2018)"
    remedies = (8,)
    needs = (PACK_FACTORY,)
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

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)

    def d_inputs(self, ctx, real, fake):
        return pack(real, self.m), pack(fake, self.m)
