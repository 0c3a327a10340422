"""Minibatch discrimination (Salimans et al. 2016).

A learned tensor T maps each sample's features to B kernels of C dims; each sample gains B
features, its closeness to the rest of the batch. Samples of a collapsed G are all close
to each other, which D learns to see. The layer is
:class:`modeguard.nn.MinibatchDiscrimination`; with your own D, put it there yourself.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..nn import MinibatchDiscrimination
from .base import Option, Strategy, register
from .minibatch_stddev import rows_per_d_batch
from .needs import d_has_layer


@register
class MinibatchDiscriminationStrategy(Strategy):
    """Splices a :class:`~modeguard.nn.MinibatchDiscrimination` before the last layer of
    ModeGuard's D; a user D must already contain one."""

    name = "minibatch-disc"
    summary = "D sees each sample's closeness to the rest of its batch (Salimans 2016)"
    remedies = (8,)
    needs = (d_has_layer(MinibatchDiscrimination),)
    options = {
        "kernels": Option(int, 16, "number of closeness features B", low=1, high=1024),
        "dims": Option(int, 8, "dimension C of each kernel's projection", low=1, high=1024),
    }

    def configure_models(self, spec, ctx):
        b, c = self.kernels, self.dims
        spec.d_head_layers.append(lambda features: (MinibatchDiscrimination(features, b, c), features + b))

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)  # a user D without the layer would silently lack it
        rows = rows_per_d_batch(ctx)
        if rows < 2:
            raise ConfigError(f"strategy 'minibatch-disc' needs at least 2 samples per D batch, "
                              f"got {rows} (batch_size {ctx.config.batch_size})")
