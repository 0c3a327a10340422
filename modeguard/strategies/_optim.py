"""Shared pieces of the optimizer and learning-rate strategies.

Learning rates compose through the optimizer's param groups (see
:mod:`modeguard.remedies.lr`): a base rate times named factors, so ``ttur`` + ``sgd`` +
``lr-schedule`` + ``adaptive-lr`` stack in any listed order.
"""
from __future__ import annotations

import abc

import torch

from ..errors import ConfigError
from ..remedies.lr import FACTOR_PREFIX, base_lr, set_base_lr, set_lr_factor  # noqa: F401  (re-exported)
from .base import Option, Strategy, parse_strategies

NETS = ("g", "d")


def nets_option(default: tuple[str, ...], help: str) -> Option:
    """The ``nets`` option: ``g``, ``d`` or ``g+d``."""
    return Option(tuple, default, help, choices=NETS)


def optimizer_of(ctx, net: str) -> torch.optim.Optimizer:
    """``ctx.opt_g`` for ``"g"``, ``ctx.opt_d`` for ``"d"``."""
    return ctx.opt_g if net == "g" else ctx.opt_d


def config_lr(config, net: str) -> float:
    """The config's learning rate of ``net`` (``"g"`` or ``"d"``)."""
    return float(config.lr_g if net == "g" else config.lr_d)


def trainable(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The parameters of ``module`` that require grad."""
    # frozen parameters (freeze-d) never enter an optimizer
    return [p for p in module.parameters() if p.requires_grad]


class OptimizerStrategy(Strategy, abc.ABC):
    """Replaces the Adam of the networks in its ``nets`` option with ``make_optimizer``.

    Subclasses declare ``options`` with at least ``nets`` and ``lr`` (None = the config's
    lr for that net) and implement ``make_optimizer``.
    """

    @abc.abstractmethod
    def make_optimizer(self, params: list, lr: float, config) -> torch.optim.Optimizer:
        """A fresh optimizer over ``params`` at learning rate ``lr``."""

    def validate(self, config) -> None:
        others = [s for s in parse_strategies(config.strategies)
                  if isinstance(s, OptimizerStrategy) and s.name != self.name]
        for other in others:
            shared = sorted(set(self.nets) & set(other.nets))
            if shared:
                raise ConfigError(f"strategy '{self.name}': strategies '{self.name}' and '{other.name}' both "
                                  f"set the optimizer of {'+'.join(shared).upper()}; give each a different 'nets'")

    def lr_for(self, config, net: str) -> float:
        """The option ``lr``, or the config's rate of ``net`` when it is unset."""
        return config_lr(config, net) if self.lr is None else self.lr

    def configure_optimizers(self, ctx) -> None:
        for net in self.nets:
            module = ctx.G if net == "g" else ctx.D
            opt = self.make_optimizer(trainable(module), self.lr_for(ctx.config, net), ctx.config)
            set_base_lr(opt, opt.param_groups[0]["lr"])
            setattr(ctx, "opt_g" if net == "g" else "opt_d", opt)
