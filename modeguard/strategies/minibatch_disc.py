"""Minibatch discrimination (Salimans et al. 2016).

A learned tensor T maps each sample's features to B kernels of C dims, M_i = f_i T; sample
i gains B features o_b(x_i) = sum_{j != i} exp(-||M_ib - M_jb||_1), its closeness to the
rest of the batch. Samples of a collapsed G are all close to each other, which D learns to
see.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .base import Option, Strategy, register


class MinibatchDiscrimination(nn.Module):
    """``(n, F)`` -> ``(n, F + B)`` with a learned ``T`` of shape ``(F, B, C)``."""

    def __init__(self, in_features: int, kernels: int = 16, dims: int = 8):
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels, dims) * 0.1)

    def closeness(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, B)``: o_b(x_i) = sum_{j != i} exp(-||M_ib - M_jb||_1)."""
        m = torch.einsum("nf,fbc->cbn", x, self.T.to(x.dtype))  # (C, B, n)
        # L1 distance one projection dim at a time: (B, n, n) pieces instead of one
        # (B, n, n, C) tensor, twice as fast; not cdist, which has no double backward (R1, GP)
        l1 = sum((v.unsqueeze(2) - v.unsqueeze(1)).abs() for v in m)  # (B, n, n)
        return (torch.exp(-l1).sum(-1) - 1.0).transpose(0, 1)  # the j = i term is exp(0) = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.closeness(x)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.T.shape[0]}, kernels={self.kernels}, dims={self.dims}"


@register
class MinibatchDisc(Strategy):
    name = "minibatch-disc"
    summary = "D sees each sample's closeness to the rest of its batch (Salimans 2016)"
    remedies = (8,)
    options = {
        "kernels": Option(int, 16, "number of closeness features B", low=1, high=1024),
        "dims": Option(int, 8, "dimension C of each kernel's projection", low=1, high=1024),
    }

    def configure_models(self, spec, ctx):
        b, c = self.kernels, self.dims
        spec.d_head_layers.append(lambda features: (MinibatchDiscrimination(features, b, c), features + b))

    def setup(self, ctx):
        rows = ctx.config.batch_size // ctx.spec.d_pack  # what D sees per batch
        if rows < 2:
            raise ConfigError(f"strategy 'minibatch-disc' needs at least 2 samples per D batch, "
                              f"got {rows} (batch_size {ctx.config.batch_size})")
