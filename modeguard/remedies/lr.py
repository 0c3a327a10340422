"""Learning rates: warmup/decay schedules, the two time-scale rule (TTUR, Heusel et al.
2017) and the adaptive controller driven by D's real/fake balance (cf. Karras et al. 2020).

Rates compose through an optimizer's param groups: every group keeps its base rate in
``group['initial_lr']`` and any number of named multipliers in ``group['lr_factor_<who>']``
(a schedule's, a controller's); its ``lr`` is always the base times every factor. Each
remedy changes only its own factor (or the base), so they stack in any order, and the
groups travel in the optimizer's state dict, so a resumed run gets the same rates back.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

from .accuracy import d_accuracy

FACTOR_PREFIX = "lr_factor_"
SCHEDULE_KINDS = ("constant", "step", "cosine", "linear")


# ---------------------------------------------------------------- composable rates
def base_lr(group: dict) -> float:
    """The param group's base rate (before any factor), recorded from ``lr`` on first use."""
    return group.setdefault("initial_lr", group["lr"])


def _apply(group: dict) -> None:
    factor = math.prod(v for k, v in group.items() if k.startswith(FACTOR_PREFIX))
    group["lr"] = group["initial_lr"] * factor


def set_base_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set the base rate of every group of ``opt``; its ``lr`` becomes ``lr`` times the factors."""
    for group in opt.param_groups:
        group["initial_lr"] = float(lr)
        _apply(group)


def set_lr_factor(opt: torch.optim.Optimizer, who: str, factor: float) -> None:
    """Set the multiplier named ``who`` on every group of ``opt``: lr = initial_lr * prod(factors)."""
    for group in opt.param_groups:
        base_lr(group)
        group[FACTOR_PREFIX + who] = float(factor)
        _apply(group)


# ---------------------------------------------------------------- schedules
def schedule_factor(step: int, total: int, warmup: int = 0, kind: str = "cosine", final: float = 0.1,
                    step_every: int = 2500, step_gamma: float = 0.5) -> float:
    """Fraction of the base lr used for update number ``step`` (0-based) of ``total``.

    Warmup: (step + 1) / warmup for the first ``warmup`` updates. Then, with progress
    p = (step - warmup) / (total - warmup) in [0, 1]: ``constant`` 1; ``linear``
    1 - (1 - final) p; ``cosine`` final + (1 - final)(1 + cos(pi p)) / 2; ``step``
    max(final, step_gamma ** ((step - warmup) // step_every)). Raises ValueError for an
    unknown ``kind``. In a plain loop:
    ``LambdaLR(opt, lambda s: schedule_factor(s, total, warmup=100))``.
    """
    if kind not in SCHEDULE_KINDS:
        raise ValueError(f"unknown schedule kind {kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
    if step < warmup:
        return (step + 1) / warmup
    after = step - warmup
    p = min(1.0, after / max(1, total - warmup))
    if kind == "linear":
        return 1.0 - (1.0 - final) * p
    if kind == "cosine":
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * p))
    if kind == "step":
        return max(final, step_gamma ** (after // step_every))
    return 1.0


# ---------------------------------------------------------------- TTUR
def apply_ttur(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
               lr_g: float = 1e-4, lr_d: float = 4e-4) -> None:
    """Give G and D separate base rates (D the faster one, by default 4x), keeping every
    factor already set on their groups. With D on the faster time scale G always faces a
    nearly best-response D, which stops G from outrunning it onto a single mode."""
    set_base_lr(opt_g, lr_g)
    set_base_lr(opt_d, lr_d)


def ttur_adam(g_params: Iterable[torch.nn.Parameter], d_params: Iterable[torch.nn.Parameter],
              lr_g: float = 1e-4, lr_d: float = 4e-4,
              betas: tuple[float, float] = (0.5, 0.999)) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Two Adams ``(opt_g, opt_d)`` at the TTUR rates (parameters without grad are skipped)."""
    opt_g = torch.optim.Adam([p for p in g_params if p.requires_grad], lr=lr_g, betas=betas)
    opt_d = torch.optim.Adam([p for p in d_params if p.requires_grad], lr=lr_d, betas=betas)
    apply_ttur(opt_g, opt_d, lr_g, lr_d)
    return opt_g, opt_d


# ---------------------------------------------------------------- adaptive controller
class AdaptiveLRController:
    """Moves G's and/or D's learning rate to keep D's accuracy on real data near ``target``.

    Feed it D's real scores every step with :meth:`observe` (``> 0`` means "D calls it
    real"; accumulated on the device, no sync); call :meth:`adjust` every interval (it reads
    the average once): above ``target + margin`` D is winning, so D's scale is divided by
    ``factor`` and G's multiplied; below ``target - margin`` the reverse. Scales stay in
    ``[min_scale, max_scale]``. :meth:`apply` writes them as the ``adaptive`` factor of the
    optimizers' groups. ``nets`` says whose rate moves: ``("d",)``, ``("g",)`` or both.
    Raises ValueError unless ``min_scale <= 1 <= max_scale``.
    """

    def __init__(self, target: float = 0.7, margin: float = 0.1, factor: float = 1.25,
                 min_scale: float = 0.1, max_scale: float = 2.0, nets: tuple[str, ...] = ("d",)):
        if min_scale > 1.0 or max_scale < 1.0:
            raise ValueError(f"min_scale <= 1 <= max_scale is needed, got {min_scale} and {max_scale}")
        self.target, self.margin, self.factor = target, margin, factor
        self.min_scale, self.max_scale = min_scale, max_scale
        self.nets = tuple(nets)
        self.scales = {"g": 1.0, "d": 1.0}
        self.acc_sum = torch.zeros(())
        self.acc_count = 0

    def observe(self, real_scores: torch.Tensor) -> None:
        """Add one batch of D's scores on real data, ``(n,)`` (no host-device sync)."""
        real_acc, _ = d_accuracy(real_scores)
        self.acc_sum = self.acc_sum.to(real_scores.device) + real_acc
        self.acc_count += 1

    def adjust(self) -> float | None:
        """Update the scales from the accuracy averaged since the last call; returns that
        accuracy, or None when nothing was observed."""
        if self.acc_count == 0:
            return None
        accuracy = float(self.acc_sum) / self.acc_count
        self.acc_sum, self.acc_count = torch.zeros(()), 0
        if accuracy > self.target + self.margin:  # D wins: slow D down, speed G up
            move = {"d": 1.0 / self.factor, "g": self.factor}
        elif accuracy < self.target - self.margin:
            move = {"d": self.factor, "g": 1.0 / self.factor}
        else:
            return accuracy
        for net in self.nets:
            self.scales[net] = min(self.max_scale, max(self.min_scale, self.scales[net] * move[net]))
        return accuracy

    def apply(self, opt_g: torch.optim.Optimizer | None, opt_d: torch.optim.Optimizer | None) -> None:
        """Write the current scales into the optimizers of ``nets`` (a None optimizer is skipped)."""
        for net, opt in (("g", opt_g), ("d", opt_d)):
            if net in self.nets and opt is not None:
                set_lr_factor(opt, "adaptive", self.scales[net])

    def state_dict(self) -> dict:
        """Scales and the running accuracy sum (plain floats and ints)."""
        return {"scales": dict(self.scales), "acc_sum": float(self.acc_sum), "acc_count": self.acc_count}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved (missing keys keep their values)."""
        self.scales.update({k: float(v) for k, v in state.get("scales", {}).items()})
        self.acc_sum = torch.tensor(float(state.get("acc_sum", 0.0)))
        self.acc_count = int(state.get("acc_count", 0))
