"""Training batches of an image set from worker processes, in pinned memory, in a seeded order.

``--loader-workers N`` (N > 0) feeds the trainer's real batches through a
``torch.utils.data.DataLoader`` with N persistent worker processes that gather each batch's
images ahead of the step, pinned in page-locked memory where the run is on CUDA so that the
copy to the device overlaps the step.

The order: real batch k (k = 0, 1, ... over the run, every real batch any phase draws) holds
the training images at indices drawn with replacement from an RNG seeded with
``(seed, k)`` alone. So the images of each batch are the same whatever the number of workers
or how far they read ahead, on resume (checkpoints record k), and under torchrun, where each
rank takes its rows of the global batch k. They are *not* those of ``--loader-workers 0``,
whose real batches come from the run's one RNG stream, shared with the latents.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from .images import ImageSet, pixels_to_model_space

#: a constant of the real-image stream's seed, so that it differs from other seeded streams
STREAM = 0x6D67


def batch_indices(seed: int, k: int, size: int, n: int) -> torch.Tensor:
    """Batch ``k``'s ``n`` indices into ``size`` training images, drawn with replacement from
    an RNG seeded with ``(seed, k)`` only."""
    state = np.random.SeedSequence([seed, STREAM, k]).generate_state(2, np.uint32)
    g = torch.Generator().manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    return torch.randint(size, (n,), generator=g)


class BatchStream(TorchDataset):
    """Item ``k``: this process's rows ``[rows)`` of real batch ``k``, uint8 ``(rows, C, H, W)``."""

    def __init__(self, data: ImageSet, seed: int, batch_size: int, rows: tuple[int, int]):
        self.data, self.seed, self.batch_size, self.rows = data, seed, batch_size, rows

    def __getitem__(self, k: int) -> torch.Tensor:
        idx = batch_indices(self.seed, k, self.data.train_size, self.batch_size)
        return self.data.pixels(idx[self.rows[0]:self.rows[1]])


class BatchLoader:
    """Real batches of ``batch_size`` from ``data`` by ``workers`` processes (see the module).

    rows: this process's rows of each batch (under torchrun its share; default all);
    pin: page-locked batches (for a CUDA device). The workers start with the first batch
    asked for and keep running (``persistent_workers``); :attr:`position` is the number of
    batches handed out, :meth:`seek` moves it (a resume, a heal's rollback).
    """

    def __init__(self, data: ImageSet, seed: int, batch_size: int, workers: int, pin: bool = False,
                 rows: tuple[int, int] | None = None):
        self.stream = BatchStream(data, seed, batch_size, rows or (0, batch_size))
        self.batch_size, self.workers, self.pin = batch_size, workers, pin
        self.position = 0
        self._batches = None

    def seek(self, position: int) -> None:
        """Hand out batch ``position`` next (workers read ahead from there)."""
        if position != self.position:
            self.position, self._batches = int(position), None

    def next(self, device: torch.device) -> torch.Tensor:
        """The next batch on ``device``, float32 in [-1, 1]: ``(rows, C, H, W)``."""
        if self._batches is None:
            loader = DataLoader(self.stream, batch_size=None, sampler=itertools.count(self.position),
                                num_workers=self.workers, pin_memory=self.pin, persistent_workers=True,
                                generator=torch.Generator().manual_seed(0))  # not the run's global RNG
            self._batches = iter(loader)
        pixels = next(self._batches)
        self.position += 1
        return pixels_to_model_space(pixels.to(device, non_blocking=True))
