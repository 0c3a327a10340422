"""Gaussian mixtures, including the standard 2-D benchmarks with PacGAN's exact protocol."""
from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DataError
from .base import Dataset, MixtureModes, register_data


class GaussianMixture(Dataset):
    """Isotropic Gaussian mixture sampled on the fly (model space = data space)."""

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
        k = len(self._centers)
        if self._uniform:
            idx = torch.randint(k, (n,), generator=generator)
        else:
            idx = torch.multinomial(self._weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.shape[0], generator=generator)
        return self._centers[idx] + self.modes.std * noise


def ring(k: int = 8, radius: float = 1.0, std: float = 0.01) -> GaussianMixture:
    angles = 2 * math.pi * np.arange(k) / k
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return GaussianMixture(centers, std, name=f"ring{k}")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    coords = (np.arange(side) - (side - 1) / 2) * spacing
    centers = np.array([(x, y) for x in coords for y in coords])
    return GaussianMixture(centers, std, name=f"grid{side * side}")


@register_data("ring8")
def _ring8(arg):
    return ring(8, 1.0, 0.01)


@register_data("grid25")
def _grid25(arg):
    return grid(5, 2.0, 0.05)
