"""Shared pieces of the optimizer and learning-rate strategies.

Learning rates compose through the optimizer's param groups: every group keeps its base
rate in ``group['initial_lr']`` and any number of multipliers in ``group['lr_factor_<who>']``
(the schedule's, the adaptive controller's); its ``lr`` is always the base times every
factor. A strategy changes only its own factor or the base, so ``ttur`` + ``sgd`` +
``lr-schedule`` + ``adaptive-lr`` stack in any listed order. The groups travel in the
optimizer's state dict, so a resumed run gets the same rates back.
"""
from __future__ import annotations

import abc
import math

import torch

from ..errors import ConfigError
from .base import Option, Strategy, parse_strategies

NETS = ("g", "d")
FACTOR_PREFIX = "lr_factor_"


def nets_option(default: tuple[str, ...], help: str) -> Option:
    """The ``nets`` option: ``g``, ``d`` or ``g+d``."""
    return Option(tuple, default, help, choices=NETS)


def optimizer_of(ctx, net: str) -> torch.optim.Optimizer:
    return ctx.opt_g if net == "g" else ctx.opt_d


def config_lr(config, net: str) -> float:
    return float(config.lr_g if net == "g" else config.lr_d)


def _apply(group: dict) -> None:
    factor = math.prod(v for k, v in group.items() if k.startswith(FACTOR_PREFIX))
    group["lr"] = group["initial_lr"] * factor


def base_lr(group: dict) -> float:
    """The group's base rate (before schedules and controllers), recorded on first use."""
    return group.setdefault("initial_lr", group["lr"])


def set_base_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for group in opt.param_groups:
        group["initial_lr"] = float(lr)
        _apply(group)


def set_lr_factor(opt: torch.optim.Optimizer, who: str, factor: float) -> None:
    """Set the multiplier named ``who`` on every group: lr = initial_lr * prod(factors)."""
    for group in opt.param_groups:
        base_lr(group)
        group[FACTOR_PREFIX + who] = float(factor)
        _apply(group)


def trainable(module: torch.nn.Module) -> list[torch.nn.Parameter]:
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
        return config_lr(config, net) if self.lr is None else self.lr

    def configure_optimizers(self, ctx) -> None:
        for net in self.nets:
            module = ctx.G if net == "g" else ctx.D
            opt = self.make_optimizer(trainable(module), self.lr_for(ctx.config, net), ctx.config)
            set_base_lr(opt, opt.param_groups[0]["lr"])
            setattr(ctx, "opt_g" if net == "g" else "opt_d", opt)
