"""The training context: everything a strategy may read or replace."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Callable

import torch

from ..config import TrainConfig
from ..distributed import Distributed
from ..data import Dataset
from ..data.loader import BatchLoader
from ..losses import Loss
from ..models import ModelSpec
from ..optim import LeanAdam


_NO_AUTOCAST = nullcontext()


class TrainContext:
    """Shared state of a run. Strategies read and replace attributes here; the trainer
    never names a strategy."""

    def __init__(self, config: TrainConfig, data: Dataset, loss: Loss, device: torch.device,
                 spec: ModelSpec, strategies: list):
        self.config = config
        self.data = data
        self.loss = loss
        self.device = device
        self.spec = spec
        self.strategies = strategies
        self.total_steps = config.resolved_steps()
        self.step = 0
        #: data and latent draws come from this generator, so a run is reproducible and resumable
        self.rng = torch.Generator().manual_seed(config.seed)
        #: the process group under torchrun (every rank draws the global batch and keeps its slice)
        self.dist: Distributed | None = None
        #: worker processes that feed the real batches (``loader_workers > 0``), else None
        self.loader: BatchLoader | None = None
        self.G: torch.nn.Module | None = None
        self.D: torch.nn.Module | None = None
        self.opt_g: torch.optim.Optimizer | None = None
        self.opt_d: torch.optim.Optimizer | None = None
        self.objective = None
        #: scalars strategies want logged (name -> float or 0-d tensor), read at log steps
        self.stats: dict[str, float | torch.Tensor] = {}
        self.last_d_batch = None
        self.last_g_batch = None
        self._d_forward: Callable | None = None

    def sample_z(self, n: int) -> torch.Tensor:
        """Latents for a batch of ``n`` (this process's share of it under torchrun): ``(n, z_dim)``."""
        z = torch.randn(n, self.spec.z_dim, generator=self.rng)
        if self.dist is not None:
            z = self.dist.local_slice(z)
        return z.to(self.device, non_blocking=True)

    def sample_real(self, n: int) -> torch.Tensor:
        """A batch of ``n`` real samples on the model's scale (this process's share under torchrun);
        a batch of the run's batch size comes from the loader's workers where the run has them."""
        if self.loader is not None and n == self.config.batch_size:
            return self.loader.next(self.device)
        x = self.data.sample(n, self.rng)
        if self.dist is not None:
            x = self.dist.local_slice(x)
        return x.to(self.device, non_blocking=True)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D's logits for ``x`` ``(n, ...)``: ``ctx.D``, or the forward a strategy installed
        with :meth:`use_discriminator` (an unrolled copy)."""
        return self._d_forward(x) if self._d_forward is not None else self.D(x)

    @contextmanager
    def use_discriminator(self, forward: Callable[[torch.Tensor], torch.Tensor]):
        """Within the block, ``discriminate`` calls ``forward`` (e.g. an unrolled copy of D)."""
        previous, self._d_forward = self._d_forward, forward
        try:
            yield
        finally:
            self._d_forward = previous

    def autocast(self):
        """bf16 autocast on CUDA when ``config.amp``; otherwise a shared no-op context (building
        a disabled ``torch.autocast`` every phase costs more than a small step's arithmetic)."""
        if self.config.amp and self.device.type == "cuda":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return _NO_AUTOCAST

    @staticmethod
    def make_adam(params, lr: float, betas) -> torch.optim.Adam:
        """A fused Adam (:class:`~modeguard.optim.LeanAdam`) over the trainable ones of ``params``."""
        params = [p for p in params if p.requires_grad]
        # fused Adam is the fastest single-process update on both CPU and CUDA
        return LeanAdam(params, lr=lr, betas=betas)
