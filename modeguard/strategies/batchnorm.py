"""Batch normalization in G and/or D (the article's remedy 3; Ioffe & Szegedy 2015).

Normalising each hidden layer over the batch keeps activations in range while the other
network moves, and in G it ties the samples of one batch together, which discourages them
from all landing on the same point.
"""
from __future__ import annotations

from ._optim import nets_option
from .base import Strategy, register
from .needs import PRESET_MODELS


@register
class BatchNorm(Strategy):
    """Sets ``g_batchnorm`` / ``d_batchnorm`` on ModeGuard's ModelSpec; user models must
    carry their own batch norm (refused, since there is no sound generic insertion point)."""

    name = "batchnorm"
    summary = "batch normalization after every hidden layer of G and/or D (Ioffe 2015)"
    remedies = (3,)
    needs = (PRESET_MODELS,)
    options = {
        "nets": nets_option(("g",), "networks that get batch norm: g, d or g+d"),
    }

    def configure_models(self, spec, ctx) -> None:
        if "g" in self.nets:
            spec.g_batchnorm = True
        if "d" in self.nets:
            spec.d_batchnorm = True

    def setup(self, ctx) -> None:
        self.check_models(ctx.G, ctx.D, ctx.spec)  # a user model would silently lack the layers
