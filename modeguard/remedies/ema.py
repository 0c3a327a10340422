"""Exponential moving average of a network's weights (Yazici et al. 2019).

The training G oscillates around the equilibrium; its running average does not, so the
averaged G samples every mode the oscillation visits, with less jitter.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

#: buffer names (suffixes) holding batch norm's running statistics
STATISTICS = ("running_mean", "running_var")


class EMA:
    """An averaged copy of ``source``: ``ema = beta * ema + (1 - beta) * source`` per update.

    Takes the module to follow and the decay ``beta`` in [0, 1]. ``module`` is the averaged
    copy (eval mode, no gradients); use it to sample. Buffers (batch-norm statistics,
    spectral-norm vectors) are copied, not averaged, unless an update asks to average batch
    norm's running statistics too (``stats=True``, as a uniform tail average does). The update is one fused
    ``torch._foreach_lerp_`` over lists built once here, so it allocates nothing per step.
    Build the EMA after every edit to ``source`` (spectral norm, freezing), since it tracks
    the parameters that exist now. Raises ValueError for ``beta`` outside [0, 1].
    """

    def __init__(self, source: nn.Module, beta: float = 0.999):
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"EMA beta must be in [0, 1], got {beta}")
        self.beta = float(beta)
        self.module = copy.deepcopy(source).eval().requires_grad_(False)
        self._ema_params = list(self.module.parameters())
        self._src_params = list(source.parameters())
        self._ema_buffers = list(self.module.buffers())
        self._src_buffers = list(source.buffers())
        # batch-norm statistics (averaged on request, as the weights) and the rest (always copied)
        pairs = [(name.endswith(STATISTICS), e, s)
                 for (name, e), s in zip(self.module.named_buffers(), self._src_buffers)]
        self._ema_stats = [e for is_stat, e, _ in pairs if is_stat]
        self._src_stats = [s for is_stat, _, s in pairs if is_stat]
        self._ema_others = [e for is_stat, e, _ in pairs if not is_stat]
        self._src_others = [s for is_stat, _, s in pairs if not is_stat]

    @torch.no_grad()
    def update(self, beta: float | None = None, stats: bool = False) -> None:
        """One averaging step toward ``source``'s current weights (``beta`` overrides the
        decay for this step; 0 copies ``source``). ``stats=True`` averages batch norm's running
        mean and variance with the same weight; other buffers are always copied."""
        weight = self.lerp_weight(beta)
        if self._ema_params:
            torch._foreach_lerp_(self._ema_params, self._src_params, weight)
        if not stats:
            if self._ema_buffers:
                torch._foreach_copy_(self._ema_buffers, self._src_buffers)
            return
        if self._ema_stats:
            torch._foreach_lerp_(self._ema_stats, self._src_stats, weight)
        if self._ema_others:
            torch._foreach_copy_(self._ema_others, self._src_others)

    def lerp_weight(self, beta: float | None = None) -> float:
        """The weight of ``source`` in one update: ``1 - beta`` (``beta`` None: the decay)."""
        return 1.0 - (self.beta if beta is None else float(beta))

    def state_dict(self) -> dict:
        """The averaged module's state dict (tensors only; loads with weights_only=True)."""
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore the averaged weights saved by :meth:`state_dict` (in place)."""
        self.module.load_state_dict(state)
