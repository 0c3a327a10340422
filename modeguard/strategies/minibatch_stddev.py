"""Minibatch standard deviation (Karras et al. 2018).

Appends one feature before D's last layer: the per-feature standard deviation across a
group of samples, averaged over features. A collapsed G's batch has a tell-tale small
spread, which D can then punish directly. The layer is :class:`modeguard.nn.MinibatchStdDev`;
with your own D, put it there yourself.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..nn import MinibatchStdDev
from .base import Option, Strategy, register
from .needs import d_has_layer


def rows_per_d_batch(ctx) -> int:
    """How many rows D sees per batch: the batch size over the packing degree (if any)."""
    return ctx.config.batch_size // getattr(ctx.spec, "d_pack", 1)


@register
class MinibatchStdDevStrategy(Strategy):
    """Splices a :class:`~modeguard.nn.MinibatchStdDev` before the last layer of ModeGuard's
    D; a user D must already contain one."""

    name = "minibatch-stddev"
    summary = "D sees the batch's feature spread as one extra feature (Karras 2018)"
    remedies = (8,)
    needs = (d_has_layer(MinibatchStdDev),)
    options = {
        "group": Option(int, 4, "samples per std group (0 = the whole batch)", low=0, high=4096),
    }

    def configure_models(self, spec, ctx):
        group = self.group
        spec.d_head_layers.append(lambda features: (MinibatchStdDev(group), features + 1))

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)  # a user D without the layer would silently lack it
        rows = rows_per_d_batch(ctx)
        if rows < 2:
            raise ConfigError(f"strategy 'minibatch-stddev' needs at least 2 samples per D batch, "
                              f"got {rows} (batch_size {ctx.config.batch_size})")
        if self.group and rows % self.group:
            raise ConfigError(f"strategy 'minibatch-stddev': D's batch of {rows} rows is not divisible by "
                              f"option group={self.group}")
