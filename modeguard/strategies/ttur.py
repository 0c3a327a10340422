"""Two time-scale update rule (Heusel et al. 2017): D learns faster than G.

With D on the faster time scale, G always faces a nearly best-response D, and the pair
provably converges to a local Nash equilibrium; in practice a faster D stops G from
outrunning it onto a single mode.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..remedies import apply_ttur
from ._optim import OptimizerStrategy
from .base import Option, Strategy, parse_strategies, register


@register
class TTUR(Strategy):
    """Sets G's and D's base rates with :func:`modeguard.remedies.apply_ttur` (any model)."""

    name = "ttur"
    summary = "separate learning rates for G and D (two time-scale update rule, Heusel 2017)"
    remedies = (1,)
    order = 55  # after the optimizer strategies (50) have built their optimizers
    options = {
        "lr_g": Option(float, 1e-4, "G's learning rate", low=1e-12),
        "lr_d": Option(float, 4e-4, "D's learning rate", low=1e-12),
    }

    def validate(self, config) -> None:
        for other in parse_strategies(config.strategies):
            if isinstance(other, OptimizerStrategy) and other.lr is not None:
                raise ConfigError(f"strategy '{self.name}': '{other.name}:lr' also sets the learning rate of "
                                  f"{'+'.join(other.nets).upper()}; set it in ttur's lr_g / lr_d only")

    def configure_optimizers(self, ctx) -> None:
        apply_ttur(ctx.opt_g, ctx.opt_d, self.lr_g, self.lr_d)
