"""Will a run fit the machine? A memory estimate made before anything is written.

The estimate is deliberately rough (within a small factor): it exists to turn a batch size
that could never fit (``--batch-size 1000000000``) into one clear line before training,
instead of an out-of-memory crash (or the kernel's OOM killer) mid-step.
"""
from __future__ import annotations

import resource

import torch

from .errors import ResourceError

#: bytes per float activation held during a step: D and G, forward outputs kept for the
#: backward pass and their gradients, and a double backward (R1) on top
STEP_BYTES_PER_ACTIVATION = 4 * 2 * 3 * 2
#: bytes per evaluated sample value: float32 samples, float64 in data space, features, distances
EVAL_BYTES_PER_VALUE = 4 + 8 + 8 + 8


def activations_per_sample(G: torch.nn.Module, z_dim: int) -> int:
    """Floats G's layers output for one sample (forward hooks on a batch of 2, no gradient,
    eval mode, no random numbers drawn); D is taken to be of G's size."""
    counts: list[int] = []
    hooks = [m.register_forward_hook(lambda m, i, out: counts.append(out.numel() if torch.is_tensor(out) else 0))
             for m in G.modules() if not list(m.children())]
    was_training = G.training
    device = next(G.parameters()).device
    try:
        G.eval()
        with torch.no_grad():
            G(torch.zeros(2, z_dim, device=device))
    finally:
        G.train(was_training)
        for h in hooks:
            h.remove()
    return max(1, sum(counts) // 2)


def available_memory(device: torch.device) -> int | None:
    """Bytes free for this process on ``device`` (None where it cannot be told)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    free = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        free = soft if free is None else min(free, soft)
    return free


def estimate_run_memory(ctx) -> int:
    """Bytes a training step and the evaluation of ``ctx`` (a TrainContext with models built)
    need, roughly: ``batch_size`` x G's activations per sample x a factor for D, gradients and
    double backward, or the evaluation's samples, whichever is larger."""
    c = ctx.config
    per_sample = activations_per_sample(ctx.G, ctx.spec.z_dim) + ctx.data.dim
    step = c.batch_size * per_sample * STEP_BYTES_PER_ACTIVATION * max(1, c.n_critic)
    evaluation = c.eval_samples * ctx.data.dim * EVAL_BYTES_PER_VALUE
    return max(step, evaluation)


def check_fits_in_memory(ctx) -> None:
    """Raise :class:`ResourceError` (one line) where :func:`estimate_run_memory` exceeds the
    memory free on the run's device. Silent where either cannot be told."""
    free = available_memory(ctx.device)
    if free is None:
        return
    try:
        need = estimate_run_memory(ctx)
    except Exception:  # an estimate must never stop a run a model's quirk makes hard to measure
        return
    if need > free:
        c = ctx.config
        raise ResourceError(f"batch_size {c.batch_size} with eval_samples {c.eval_samples} needs about "
                            f"{_gib(need)} of memory on {ctx.device.type}, and {_gib(free)} is free; "
                            f"use a smaller --batch-size / eval_samples")


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**27 else f"{n / 2**20:.3g} MiB"


__all__ = ["activations_per_sample", "available_memory", "check_fits_in_memory", "estimate_run_memory"]
