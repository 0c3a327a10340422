"""Batch-level layers that let a discriminator see collapse, for any D.

Put one before your D's last layer; ModeGuard's ``minibatch-stddev`` and ``minibatch-disc``
strategies splice these same layers into its own discriminators. Both read the whole
batch, so D's output for a row depends on the other rows: train D on batches of real
only and fake only (not mixed), and do not combine them with a per-sample gradient
penalty's assumptions lightly.
"""
from __future__ import annotations

import torch
from torch import nn


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018): ``(n, F)`` -> ``(n, F + 1)``.

    The extra feature of row i is the mean over features of the (biased) std across the
    group of ``group`` consecutive rows holding row i; a collapsed G's batch has a
    tell-tale small spread. ``group=0`` (or a group that does not divide n) uses the whole
    batch as one group. Inputs of more dims ``(n, ...)`` are flattened to ``(n, F)``.
    """

    def __init__(self, group: int = 4):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = len(x)
        x = x.reshape(n, -1)
        g = min(self.group, n) if self.group else n
        if n % g:
            g = n
        grouped = x.reshape(n // g, g, -1)
        centred = grouped - grouped.mean(dim=1, keepdim=True)
        # written out rather than var(): several times faster on CPU, forward and backward
        std = torch.sqrt(centred.square().mean(dim=1) + 1e-8)  # (n/g, F)
        stat = std.mean(dim=1, keepdim=True)  # (n/g, 1)
        return torch.cat([x, stat.unsqueeze(1).expand(n // g, g, 1).reshape(n, 1)], dim=1)

    def extra_repr(self) -> str:
        return f"group={self.group}"


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016): ``(n, F)`` -> ``(n, F + B)``.

    A learned tensor ``T`` of shape ``(F, B, C)`` maps each row's features to B kernels of
    C dims, M_i = f_i T; row i gains B features o_b(x_i) = sum_{j != i} exp(-||M_ib - M_jb||_1),
    its closeness to the rest of the batch. Samples of a collapsed G are all close to each
    other, which D learns to see. Takes ``in_features`` F, ``kernels`` B and ``dims`` C.
    """

    def __init__(self, in_features: int, kernels: int = 16, dims: int = 8):
        super().__init__()
        self.kernels, self.dims = kernels, dims
        self.T = nn.Parameter(torch.randn(in_features, kernels, dims) * 0.1)

    def closeness(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, F)`` -> ``(n, B)``: o_b(x_i) = sum_{j != i} exp(-||M_ib - M_jb||_1)."""
        m = torch.einsum("nf,fbc->cbn", x, self.T.to(x.dtype))  # (C, B, n)
        # L1 distance one projection dim at a time: (B, n, n) pieces instead of one
        # (B, n, n, C) tensor, twice as fast; not cdist, which has no double backward (R1, GP)
        l1 = sum((v.unsqueeze(2) - v.unsqueeze(1)).abs() for v in m)  # (B, n, n)
        return (torch.exp(-l1).sum(-1) - 1.0).transpose(0, 1)  # the j = i term is exp(0) = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.closeness(x)], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.T.shape[0]}, kernels={self.kernels}, dims={self.dims}"


__all__ = ["MinibatchStdDev", "MinibatchDiscrimination"]
