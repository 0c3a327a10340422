"""Drawing samples from a generator in evaluation mode, reproducibly."""
from __future__ import annotations

from typing import Callable

import torch


@torch.no_grad()
def draw_samples(G: torch.nn.Module, n: int, z_dim: int, device: torch.device, autocast: Callable,
                 seed: int = 0, chunk: int = 10000, rows: tuple[int, int] | None = None) -> torch.Tensor:
    """``n`` samples of ``G`` (in eval mode, restored after) from latents of ``seed``'s own
    generator, in chunks of ``chunk``: a float CPU tensor ``(n, *G's output shape)``.

    The same seed gives the same latents whatever the run's RNG state; ``autocast`` is a
    context-manager factory (the run's bf16 autocast on CUDA). ``rows=(start, stop)``: only
    those rows of the ``n`` samples (the same latents; one process's share of them).
    """
    start, stop = rows if rows is not None else (0, n)
    was_training = G.training
    G.eval()
    g = torch.Generator().manual_seed(seed)
    out = []
    try:
        for i in range(0, min(n, stop), chunk):
            z = torch.randn(min(chunk, n - i), z_dim, generator=g)
            lo, hi = max(start - i, 0), min(stop - i, len(z))
            if lo < hi:
                with autocast():
                    out.append(G(z[lo:hi].to(device)).float().cpu())
    finally:
        G.train(was_training)
    return torch.cat(out)
