"""Data-parallel training under ``torchrun``: one run, several processes, averaged gradients.

``torchrun --nproc_per_node N -m modeguard train ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``MASTER_ADDR``/``MASTER_PORT`` set; :func:`from_env` joins them into one
process group (gloo on CPU, NCCL on CUDA). Each step, every process computes its share of
the global batch and the gradients are averaged with one ``all_reduce`` per network before
the optimizer steps (as stylegan2-ada-pytorch does, rather than ``DistributedDataParallel``,
whose reducer does not support R1's double backward or D frozen during G's phase).

Data order: every rank draws the *global* batch from the run's one seeded stream and keeps
its slice, so a run on N processes with global batch B sees the same samples as one process
with batch B and trains to the same weights (within float tolerance). Rank 0 alone writes
the run directory and runs the callbacks (monitor, figures); the weights are identical on
every rank, so its samples stand for all of them.
"""
from __future__ import annotations

import atexit
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import ConfigError

ENV_VARS = ("RANK", "WORLD_SIZE")


def env_rank() -> int:
    """This process's rank from ``torchrun``'s environment (0 outside ``torchrun``)."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def env_world_size() -> int:
    """The number of processes from ``torchrun``'s environment (1 outside ``torchrun``)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def is_main_process() -> bool:
    """True outside ``torchrun`` and on rank 0: the one process that writes a run."""
    return env_rank() == 0


@dataclass
class Distributed:
    """The process group of a data-parallel run: ``rank`` of ``world_size``."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    def local_slice(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's share of a global batch ``(B, ...)``: rows ``[r*B/W, (r+1)*B/W)``."""
        n = len(x) // self.world_size
        return x[self.rank * n:(self.rank + 1) * n]

    def share(self, n: int) -> tuple[int, int]:
        """This rank's rows ``[start, stop)`` of ``n``, in shares of ``ceil(n / W)`` (the last
        ranks' shares may be shorter, or empty)."""
        m = -(-n // self.world_size)
        return min(n, self.rank * m), min(n, (self.rank + 1) * m)

    def gather_rows(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Every rank's ``x`` (its :meth:`share` of ``n`` rows) joined in rank order: ``(n, ...)``
        on every rank (one ``all_gather``; shares are padded to the same length on the way)."""
        m = -(-n // self.world_size)
        local = torch.zeros((m, *x.shape[1:]), dtype=x.dtype, device=self.device)
        local[:len(x)] = x.to(self.device)
        parts = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(parts, local)
        return torch.cat(parts)[:n].to(x.device)

    def average_grads(self, optimizer: torch.optim.Optimizer) -> None:
        """Average the gradients of ``optimizer``'s parameters over the ranks (one
        ``all_reduce`` of all of them flattened; parameters without a gradient count as 0)."""
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if not params:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over ranks of a tensor (every rank gets it)."""
        out = values.detach().clone().float()
        dist.all_reduce(out)
        return out / self.world_size

    def any(self, flag: bool | torch.Tensor) -> bool:
        """True on every rank when ``flag`` is true on any rank."""
        t = torch.as_tensor(flag, dtype=torch.float32, device=self.device).reshape(1).clone()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def broadcast_object(self, obj):
        """Rank 0's ``obj`` on every rank (a small picklable value)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def from_env(device: torch.device, batch_size: int) -> Distributed | None:
    """Join ``torchrun``'s process group, or None outside ``torchrun`` (``WORLD_SIZE`` unset or 1).

    Raises :class:`ConfigError` when the global ``batch_size`` does not split evenly over
    the ranks, or when the process group cannot be formed (one line).
    """
    world = env_world_size()
    if world == 1:
        return None
    if batch_size % world:
        raise ConfigError(f"batch size {batch_size} does not split over {world} processes; "
                          f"use a multiple of {world}")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        try:
            dist.init_process_group(backend=backend)
        except (RuntimeError, ValueError) as e:
            raise ConfigError(f"torchrun: cannot form the process group ({backend}): "
                              f"{str(e).splitlines()[0][:200]}") from None
        atexit.register(shutdown)
    return Distributed(dist.get_rank(), dist.get_world_size(), device)


def shutdown() -> None:
    """Leave the process group together: a barrier, then tear it down. Without it, a rank that
    exits first closes its connections under a peer that is still finishing, and gloo aborts
    that peer (SIGABRT)."""
    if not dist.is_initialized():
        return
    try:
        dist.barrier()
    except RuntimeError:  # a peer is gone already: nothing left to wait for
        pass
    dist.destroy_process_group()
