"""Gradient penalties on D: R1 (Mescheder et al. 2018) and WGAN-GP (Gulrajani et al. 2017).

Both take ``discriminate``, any callable mapping a batch ``(n, ...)`` to D's outputs
``(n,)`` or ``(n, k)`` (a plain ``D``, or an unrolled / functional copy of it), so they work
on any differentiable D. Neither is meaningful when D normalises over the batch
(batch norm): the penalty assumes D's output for one row depends on that row only.
"""
from __future__ import annotations

from typing import Callable

import torch

Discriminate = Callable[[torch.Tensor], torch.Tensor]


def r1_penalty(discriminate: Discriminate, real: torch.Tensor) -> torch.Tensor:
    """E_rows ||d D(x) / dx||^2 at the real batch (the R1 penalty without its gamma / 2).

    Takes ``real`` ``(n, ...)``; D's outputs are summed per row. Returns a 0-d tensor that
    carries the graph (``create_graph``), so adding ``0.5 * gamma * r1_penalty(D, real)`` to
    D's loss trains D through it.
    """
    x = real.detach().requires_grad_(True)
    out = discriminate(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(len(x), -1).pow(2).sum(1).mean()


def r1_penalty_at(d_real: torch.Tensor, real_in: torch.Tensor) -> torch.Tensor:
    """The R1 penalty from a forward pass already made: ``d_real = D(real_in)`` where
    ``real_in`` ``(n, ...)`` requires grad. Saves the second forward of :func:`r1_penalty`
    (the trainer shares D's forward on reals between the loss and R1). Returns a 0-d
    tensor carrying the graph."""
    (grad,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
    return grad.reshape(len(real_in), -1).pow(2).sum(1).mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Rows ``alpha * real + (1 - alpha) * fake`` (both detached).

    ``real`` and ``fake`` have the same shape ``(n, ...)``; ``alpha`` has shape ``(n,)``,
    values in [0, 1]. Returns ``(n, ...)``.
    """
    a = alpha.reshape(-1, *([1] * (real.dim() - 1))).to(real.dtype)
    return a * real.detach() + (1 - a) * fake.detach()


def gradient_penalty(discriminate: Discriminate, x_hat: torch.Tensor, center: float = 1.0) -> torch.Tensor:
    """E_rows (||d D(x) / dx|| - center)^2 at ``x_hat`` ``(n, ...)``; a 0-d tensor with graph.

    ``center=0`` penalises ||grad||^2 (no square root, whose gradient is undefined at 0).
    A D with several outputs per input (several critics, class logits) is penalised once
    per output column, and the penalties summed.
    """
    x = x_hat.detach().requires_grad_(True)
    out = discriminate(x).reshape(len(x), -1)
    total = x.new_zeros(())
    for k in range(out.shape[1]):
        (grad,) = torch.autograd.grad(out[:, k].sum(), x, create_graph=True)
        sq = grad.reshape(len(x), -1).pow(2).sum(1)
        if center == 0:
            total = total + sq.mean()
        else:
            total = total + (torch.sqrt(sq + 1e-12) - center).pow(2).mean()
    return total


def wgan_gp_penalty(discriminate: Discriminate, real: torch.Tensor, fake: torch.Tensor,
                    generator: torch.Generator | None = None, center: float = 1.0) -> torch.Tensor:
    """:func:`gradient_penalty` at uniform random interpolates of ``real`` and ``fake``.

    Takes two batches of the same shape ``(n, ...)`` and an optional CPU ``generator`` for
    the interpolation weights (for reproducible runs). Returns a 0-d tensor with graph.
    """
    alpha = torch.rand(len(real), generator=generator).to(real.device)
    return gradient_penalty(discriminate, interpolate(real, fake, alpha), center)
