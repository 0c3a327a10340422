"""The adversarial objective: how D's outputs on real and fake inputs become losses.

The default wraps one of :mod:`modeguard.losses`. Strategies that change the game itself
(several discriminators, several generators) install their own objective in ``setup``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses import Loss


@dataclass
class Batch:
    """What one phase (D or G) of a step computed, for hooks to read."""

    phase: str
    real: torch.Tensor
    fake: torch.Tensor
    real_in: torch.Tensor | None = None
    fake_in: torch.Tensor | None = None
    d_real: torch.Tensor | None = None
    d_fake: torch.Tensor | None = None
    loss: torch.Tensor | None = None


class AdversarialObjective:
    """D's and G's adversarial losses from one :class:`~modeguard.losses.Loss`; strategies
    that change the game itself (GMAN, MAD-GAN, feature matching) install their own."""

    def __init__(self, loss: Loss):
        self.loss = loss

    def d_loss(self, ctx, batch: Batch) -> torch.Tensor:
        """D's loss on ``batch.real_in`` / ``batch.fake_in``; fills ``d_real`` and ``d_fake``."""
        batch.d_real = ctx.discriminate(batch.real_in)
        batch.d_fake = ctx.discriminate(batch.fake_in)
        return self.loss.d(batch.d_real, batch.d_fake)

    def g_loss(self, ctx, batch: Batch) -> torch.Tensor:
        """G's loss on ``batch.fake_in``; fills ``d_fake``."""
        batch.d_fake = ctx.discriminate(batch.fake_in)
        return self.loss.g(batch.d_fake)

    def real_score(self, d_out: torch.Tensor) -> torch.Tensor:
        """One score per input where > 0 means "D calls it real" (for D's accuracy)."""
        return d_out.reshape(len(d_out), -1).mean(1)
