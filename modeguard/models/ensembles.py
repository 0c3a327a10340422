"""Several generators or discriminators behind the single-network interface."""
from __future__ import annotations

import torch
from torch import nn


class MultiGenerator(nn.Module):
    """K generators; a batch of n latents is split into K near-equal consecutive chunks,
    chunk k going to generator k (so every sample set contains every generator's output).

    generators: modules mapping ``(n, z_dim)`` to samples; the first one's ``z_dim`` is used.
    """

    def __init__(self, generators: list[nn.Module]):
        super().__init__()
        self.generators = nn.ModuleList(generators)
        self.z_dim = generators[0].z_dim

    def labels(self, n: int, device=None) -> torch.Tensor:
        """Which generator made each of the n samples of ``forward``."""
        sizes = [len(c) for c in torch.arange(n).tensor_split(len(self.generators))]
        return torch.repeat_interleave(torch.arange(len(sizes), device=device),
                                       torch.tensor(sizes, device=device))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``(n, z_dim)`` -> samples ``(n, ...)``, generator k's chunk at its place."""
        chunks = z.tensor_split(len(self.generators))
        return torch.cat([g(c) for g, c in zip(self.generators, chunks) if len(c)], dim=0)


class MultiDiscriminator(nn.Module):
    """K discriminators on the same input; output (n, K) (one column per discriminator).

    discriminators: modules with one output per input (and ``features`` for :meth:`features`).
    """

    def __init__(self, discriminators: list[nn.Module]):
        super().__init__()
        self.discriminators = nn.ModuleList(discriminators)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Every discriminator's features ``(n, F_k)``, concatenated ``(n, sum F_k)``."""
        return torch.cat([d.features(x) for d in self.discriminators], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """D's input ``(n, ...)`` -> ``(n, K)``: column k is discriminator k's output."""
        return torch.cat([d(x).reshape(len(x), -1) for d in self.discriminators], dim=1)
