"""Gaussian mixtures, including the standard 2-D benchmarks with PacGAN's exact protocol."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DataError
from .base import Dataset, MixtureModes


class GaussianMixture(Dataset):
    """Isotropic Gaussian mixture sampled on the fly (model space = data space).

    centers: ``(K, d)``; std: the components' standard deviation; weights: ``(K,)``
    non-negative (default uniform; normalised here). Raises :class:`DataError` on a bad value.
    """

    def __init__(self, centers, std: float, weights=None, name: str = "mixture"):
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2 or len(centers) == 0:
            raise DataError(f"{name}: centres must be a non-empty (K, d) array")
        if not (np.isfinite(std) and std > 0):
            raise DataError(f"{name}: std must be a positive number, got {std}")
        k = len(centers)
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (k,) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
            raise DataError(f"{name}: weights must be {k} non-negative numbers")
        w = w / w.sum()
        self.name = name
        self.shape = (centers.shape[1],)
        self.modes = MixtureModes(centers=centers, std=float(std), weights=w)
        self._centers = torch.as_tensor(centers, dtype=torch.float32)
        self._weights = torch.as_tensor(w, dtype=torch.float32)
        self._uniform = bool(np.allclose(w, w[0]))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, d)`` float32 samples: a component by weight, plus isotropic noise."""
        k = len(self._centers)
        if self._uniform:
            idx = torch.randint(k, (n,), generator=generator)
        else:
            idx = torch.multinomial(self._weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.shape[0], generator=generator)
        # index_select and a fused add: two operators where indexing, mul and add take three
        return torch.index_select(self._centers, 0, idx).add_(noise, alpha=self.modes.std)


def ring(k: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    """``k`` equal components evenly spaced on a circle of ``radius`` (2-D), named ``ring{k}``."""
    angles = 2 * math.pi * np.arange(k) / k
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture(centers, std, name=f"ring{k}")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """``side`` x ``side`` equal components on a centred square grid (2-D), named ``grid{side**2}``."""
    coords = (np.arange(side) - (side - 1) / 2) * spacing
    centers = np.array([(x, y) for x in coords for y in coords])
    return GaussianMixture(centers, std, name=f"grid{side * side}")


def _no_argument(name: str, arg: str | None) -> None:
    if arg:
        raise DataError(f"data '{name}' takes no argument, got '{name}:{arg}'")


def ring8_source(arg: str | None = None) -> GaussianMixture:
    """``--data ring8``: PacGAN's 8 modes on the unit circle, std 0.01."""
    _no_argument("ring8", arg)
    return ring(8, 1.0, 0.01)


def grid25_source(arg: str | None = None) -> GaussianMixture:
    """``--data grid25``: PacGAN's 5 x 5 grid with spacing 2, std 0.05."""
    _no_argument("grid25", arg)
    return grid(5, 2.0, 0.05)
