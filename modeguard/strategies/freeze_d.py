"""FreezeD (Mo et al. 2020): keep D's first layers fixed, train only the rest.

With a warm-started D, the first layers hold generic features of the data; fixing them
stops D from overfitting a small or shifting batch distribution, which is what lets it
punish G for dropping modes. The frozen parameters have ``requires_grad=False``, so they
never enter D's optimizer.
"""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ..models.ensembles import MultiDiscriminator
from .base import Option, Strategy, register
from .spectral_norm import layers_with_weight


def discriminator_bodies(D: nn.Module) -> list[nn.Module]:
    """The feature bodies of D, one per discriminator of a MultiDiscriminator: each one's
    ``body`` attribute where it has one (ModeGuard's D), else the discriminator itself."""
    nets = list(D.discriminators) if isinstance(D, MultiDiscriminator) else [D]
    return [net.body if isinstance(getattr(net, "body", None), nn.Module) else net for net in nets]


@register
class FreezeD(Strategy):
    """Freezes the first ``layers`` layers with a weight matrix of each D body in ``setup``;
    works on any D (the layers are taken in ``modules()`` order)."""

    name = "freeze-d"
    summary = "freeze D's first N weight layers (FreezeD, Mo 2020); pair with warm-start"
    remedies = (9,)
    order = 70  # after warm start (40) and spectral norm (60), before the optimizers exist
    options = {
        "layers": Option(int, 1, "how many of D's first layers with a weight matrix to freeze", low=1),
    }

    def setup(self, ctx) -> None:
        for body in discriminator_bodies(ctx.D):
            layers = layers_with_weight(body)
            if self.layers > len(layers):
                raise ConfigError(f"strategy '{self.name}': option 'layers' is {self.layers} but D's body "
                                  f"has only {len(layers)} layers with a weight matrix")
            for m in layers[: self.layers]:
                m.requires_grad_(False)
