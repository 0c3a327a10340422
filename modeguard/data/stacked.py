"""Stacked sets: three random images of a 10-class grey set stacked as colour channels.

Each sample's mode is its label triple, so a 10-class base gives 1,000 modes (Metz et al.
2017's Stacked MNIST; VEEGAN's and PacGAN's protocol). Samples are drawn on the fly with
the generator passed to :meth:`sample`, so a run's data stream is reproducible from its seed.

Specs: ``stacked-digits`` (3 x 8 x 8 from scikit-learn digits), ``stacked-mnist:DIR``
(3 x 28 x 28 from any MNIST-format folder), ``stacked-fashion-mnist[:DIR]``.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from ..errors import DataError
from .base import Dataset
from .images import ImageSet, load_digits_set, load_fashion_mnist, load_mnist_format, pixels_to_model_space, \
    to_unit_range
from .limit import limit_indices

CHANNELS = 3


class StackedImages(Dataset):
    """``(3, H, W)`` samples whose channels are independent uniform draws from a 1-channel base set.

    base: a labelled 1-channel :class:`ImageSet` (its labels define the ``classes**3`` modes).
    Raises :class:`DataError` for a colour or unlabelled base.
    """

    kind = "image"
    stacked = True

    def __init__(self, base: ImageSet, name: str):
        if base.shape[0] != 1:
            raise DataError(f"{name}: the base set must have 1 channel, got {base.shape[0]}")
        if not base.labelled:
            raise DataError(f"{name}: the base set needs class labels to define modes")
        self.base = base
        self.name = name
        self.shape = (CHANNELS, *base.shape[1:])
        self.channel_classes = int(base.num_classes)
        self.num_modes = self.channel_classes ** CHANNELS
        self._pixels = torch.from_numpy(np.ascontiguousarray(base.train_images[:, 0]))  # (N, H, W)
        self._labels = torch.from_numpy(np.ascontiguousarray(base.train_labels))

    def limited(self, n: int, seed: int) -> "StackedImages":
        """This set drawing its stacks from ``n`` of the base set's train images, chosen with
        ``seed`` (indices in ``training_indices``); the held-out images stay whole.
        Raises :class:`ConfigError` for n < 1 or n > the base's train split."""
        idx = limit_indices(len(self._pixels), n, seed, "base images")
        out = copy.copy(self)
        keep = torch.from_numpy(idx)
        out._pixels, out._labels, out.training_indices = self._pixels[keep], self._labels[keep], idx
        return out

    def sample_with_labels(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x (n, 3, H, W) in [-1, 1], labels (n, 3) int64)``."""
        idx = torch.randint(len(self._pixels), (n, CHANNELS), generator=generator)
        return pixels_to_model_space(self._pixels[idx]), self._labels[idx]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``(n, 3, H, W)`` float32 stacks in [-1, 1] (labels dropped; see :meth:`sample_with_labels`)."""
        return self.sample_with_labels(n, generator)[0]

    def to_data_space(self, x: torch.Tensor) -> np.ndarray:
        """Model-space stacks ``(n, 3, H, W)`` in [-1, 1] -> float32 numpy in [0, 1]."""
        return to_unit_range(x)

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """``n`` stacks of held-out (test split) images in [0, 1]."""
        test = self.base.test_images[:, 0]
        idx = np.random.default_rng(seed).integers(len(test), size=(n, CHANNELS))
        return test[idx].astype(np.float32) / 255.0

    def mode_of(self, labels: np.ndarray) -> np.ndarray:
        """Label triples ``(n, 3)`` -> mode index in ``[0, classes**3)``."""
        labels = np.asarray(labels, dtype=np.int64)
        return (labels * self.channel_classes ** np.arange(CHANNELS - 1, -1, -1)).sum(1)

    def checksum(self) -> str:
        """The base set's checksum (the stacks are drawn from it)."""
        return self.base.checksum()


def stacked(base: ImageSet, name: str) -> StackedImages:
    """The stacked set of ``base`` (see :class:`StackedImages`), named ``name``."""
    return StackedImages(base, name)


def stacked_digits_source(arg: str | None = None) -> StackedImages:
    """``--data stacked-digits``: 3 x 8 x 8 stacks of scikit-learn digits (1,000 modes)."""
    if arg:
        raise DataError(f"data 'stacked-digits' takes no argument, got 'stacked-digits:{arg}'")
    return stacked(load_digits_set(), "stacked-digits")


def stacked_mnist_source(arg: str | None = None) -> StackedImages:
    """``--data stacked-mnist:DIR``: 3 x 28 x 28 stacks of the MNIST-format folder ``DIR``."""
    if not arg:
        raise DataError("data 'stacked-mnist' needs a folder of MNIST-format files: --data stacked-mnist:DIR")
    return stacked(load_mnist_format(arg, "mnist"), "stacked-mnist")


def stacked_fashion_mnist_source(arg: str | None = None) -> StackedImages:
    """``--data stacked-fashion-mnist[:DIR]``: stacks of Fashion-MNIST."""
    return stacked(load_fashion_mnist(arg or None), "stacked-fashion-mnist")
