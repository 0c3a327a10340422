"""The data interface every source implements, and the name -> source registry."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import DataError


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
        return x.detach().cpu().numpy().astype(np.float64)

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """``n`` real samples in data space, reproducible from ``seed`` (held out from training's stream)."""
        g = torch.Generator().manual_seed(seed)
        return self.to_data_space(self.sample(n, g))

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))

    def spec(self) -> str:
        return self.name


_SOURCES: dict[str, Callable[[str | None], Dataset]] = {}


def register_data(name: str):
    """Register ``builder(arg) -> Dataset`` under ``name`` (spec ``name`` or ``name:arg``)."""

    def deco(builder):
        _SOURCES[name] = builder
        return builder

    return deco


def data_names() -> list[str]:
    return sorted(_SOURCES)


def resolve_data(spec: str) -> Dataset:
    """Turn ``ring8``, ``grid25``, ``name:arg`` or a file path into a :class:`Dataset`."""
    if not isinstance(spec, str) or not spec:
        raise DataError("data must be a name or a path")
    name, _, arg = spec.partition(":")
    if name in _SOURCES:
        return _SOURCES[name](arg or None)
    path = Path(spec)
    if path.suffix.lower() in (".npy", ".npz", ".csv", ".txt") or path.exists():
        from .points import load_points

        return load_points(path)
    raise DataError(f"unknown data '{spec}': not one of {', '.join(data_names())} and no such file")
