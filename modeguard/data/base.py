"""The data interface every source implements (the name -> source registry is in :mod:`.registry`)."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MixtureModes:
    """Known modes of a Gaussian mixture, in data space (what mode metrics need)."""

    centers: np.ndarray  # (K, d)
    std: float
    weights: np.ndarray  # (K,), sums to 1


class Dataset(ABC):
    """A source of training samples.

    ``sample`` returns a float tensor of shape ``(n, *shape)`` in *model space* (what G
    produces and D sees); ``to_data_space`` maps model-space samples back to the user's
    units. ``modes`` is set where the true modes are known.
    """

    name: str = "data"
    shape: tuple[int, ...] = ()
    modes: MixtureModes | None = None
    #: "points" for vectors, "image" for (C, H, W) tensors in [-1, 1]
    kind: str = "points"

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` fresh samples in model space, drawn with ``generator``."""

    def to_data_space(self, x: torch.Tensor) -> np.ndarray:
        """Model-space samples ``(n, *shape)`` -> float64 numpy ``(n, *shape)`` in the data's units."""
        return x.detach().cpu().numpy().astype(np.float64)

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """``n`` real samples in data space, reproducible from ``seed`` (held out from training's stream)."""
        g = torch.Generator().manual_seed(seed)
        return self.to_data_space(self.sample(n, g))

    @property
    def dim(self) -> int:
        """Values per sample: the product of ``shape``."""
        return int(np.prod(self.shape))

    def spec(self) -> str:
        """The text that names this data set (what ``--data`` and ``config.yaml`` hold)."""
        return self.name
