"""``--data-limit N``: train on N samples of the training set, drawn once with the run's seed.

What is limited is what training draws from; the held-out data (``reference``, the mode
classifier's training and test images, label frequencies) stays the whole set's, so a
data-limited run is measured against the same yardstick as a full one.

- image sets: N of the train split's images;
- stacked sets: N of the base set's train images, the stacks are drawn from those;
- point files: N of the points;
- sources that draw fresh samples (the 2-D mixtures): N samples drawn once, then reused.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .base import Dataset


def limit_indices(total: int, n: int, seed: int, what: str) -> np.ndarray:
    """``n`` distinct sorted indices into ``total`` training items, drawn with ``seed``.
    Raises :class:`ConfigError` when ``n`` is below 1 or above ``total``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"data_limit must be an integer >= 1, got {n!r}")
    if n > total:
        raise ConfigError(f"data_limit {n} is more than the {total} {what} of the training set")
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


class FixedSample(Dataset):
    """``n`` samples of a source that draws fresh ones (e.g. a Gaussian mixture), drawn once
    with ``seed`` and then sampled with replacement; everything else is the source's
    (its reference set, modes, units)."""

    def __init__(self, source: Dataset, n: int, seed: int):
        limit_indices(n, n, seed, "samples")  # the same one-line error for a bad n
        self.source = source
        self.name, self.shape, self.kind, self.modes = source.name, source.shape, source.kind, source.modes
        self._pool = source.sample(n, torch.Generator().manual_seed(seed))

    def __getattr__(self, name: str):  # num_modes, mode_of, ...: the source's
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` of the fixed samples ``(n, *shape)``, drawn with replacement."""
        return self._pool[torch.randint(len(self._pool), (n,), generator=generator)]

    def to_data_space(self, x: torch.Tensor) -> np.ndarray:
        """The source's mapping to data space."""
        return self.source.to_data_space(x)

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """The source's held-out reference samples (not the fixed training ones)."""
        return self.source.reference(n, seed)

    def spec(self) -> str:
        """The source's spec (the limit is recorded as ``data_limit``)."""
        return self.source.spec()


def limit_data(data: Dataset, n: int | None, seed: int) -> Dataset:
    """``data`` restricted to ``n`` training samples drawn with ``seed`` (``data`` itself when
    ``n`` is None). Sets with a training split limit it (their ``limited`` method); sources
    that draw fresh samples get a :class:`FixedSample`. Raises :class:`ConfigError` for an
    ``n`` below 1 or above the training set's size."""
    if n is None:
        return data
    limited = getattr(data, "limited", None)
    return limited(n, seed) if callable(limited) else FixedSample(data, n, seed)
