"""Jacobian-based truncation at sampling time (Tanielian et al. 2020, "Learning disconnected
manifolds: a no GAN's land").

A continuous G maps the connected latent space onto disconnected modes, so some latents
must land between modes. Those latents are where G stretches space most: the norm of G's
Jacobian with respect to z peaks on the boundaries between the latent regions of two modes.
Rejecting the latents with the largest Jacobian norms removes the samples between modes and
keeps the modes themselves (their weights are unchanged where the boundaries are).

The threshold is the ``1 - q`` quantile of the norms of a fixed reference draw of latents,
computed when the sampling generator is first asked for at a step (the weights have changed
since the last step; within a step, and until a checkpoint is restored, it is reused). A rejected
latent is replaced by a fixed random rotation of itself (still standard normal), up to
``tries`` times, so each sample depends on its own latent alone: the same latents give the
same samples in any chunking and on any rank. The norm is exact (one backward per output
value) for outputs of at most :data:`EXACT_MAX_OUTPUTS` values, else estimated as
``mean_v ||v^T J||^2`` over ``probes`` fixed Rademacher vectors ``v``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .base import Option, Strategy, register

#: outputs up to this many values get the exact Frobenius norm (one backward each)
EXACT_MAX_OUTPUTS = 8
#: latents in the reference draw that sets the threshold
REFERENCE_LATENTS = 10000


def jacobian_norms(G: nn.Module, z: torch.Tensor, probes: list[torch.Tensor] | None) -> torch.Tensor:
    """Per row of ``z``, the squared Frobenius norm of dG(z)/dz (exact where ``probes`` is
    None, else the mean of ``||v^T J||^2`` over the probe vectors ``v``): ``(n,)``."""
    with torch.enable_grad():
        z = z.detach().requires_grad_(True)
        x = G(z).reshape(len(z), -1).float()
        outs = [x[:, k] for k in range(x.shape[1])] if probes is None else [x @ v for v in probes]
        total = torch.zeros(len(z), device=z.device)
        for i, out in enumerate(outs):
            (grad,) = torch.autograd.grad(out.sum(), z, retain_graph=i < len(outs) - 1)
            total += grad.pow(2).sum(1)
    return total if probes is None else total / len(probes)


class TruncatedGenerator(nn.Module):
    """Samples of ``G`` whose latents' Jacobian norms are at most ``threshold``: each rejected
    latent is rotated by ``rotation`` (orthogonal) and tried again, ``tries`` times at most."""

    def __init__(self, G: nn.Module, threshold: float, rotation: torch.Tensor, probes, tries: int):
        super().__init__()
        self.G, self.threshold, self.rotation, self.probes, self.tries = G, threshold, rotation, probes, tries

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.clone()
        for _ in range(self.tries):
            rejected = jacobian_norms(self.G, z, self.probes) > self.threshold
            if not bool(rejected.any()):
                break
            z[rejected] = z[rejected] @ self.rotation
        with torch.no_grad():
            return self.G(z)


@register
class JacobianTruncation(Strategy):
    """Wraps the sampling generator (after the EMA) in a :class:`TruncatedGenerator`; training
    is unchanged. Works on any G that is differentiable in z."""

    name = "jacobian-truncation"
    summary = "drop the latents where G's Jacobian peaks: samples between modes (Tanielian 2020)"
    remedies = (7,)
    order = 95  # wraps whatever generator the other strategies sample from (the EMA copy)
    # a sampling filter: the monitor watches the untruncated generator (one check would
    # otherwise take the Jacobian norms of 1,000 samples and the reference latents again)
    sampling_only = True
    options = {
        "q": Option(float, 0.03, "share of latents rejected (their Jacobian norm is in the top q)", low=0.0, high=0.5),
        "probes": Option(int, 2, "random projections estimating the norm for outputs over 8 values", low=1),
        "tries": Option(int, 20, "rotations tried for a rejected latent before it is kept", low=1),
    }

    def __init__(self, **opts):
        super().__init__(**opts)
        self._cached: tuple[tuple[int, int], TruncatedGenerator] | None = None
        self._draws: tuple | None = None

    def _fixed_draws(self, z_dim: int, out_size: int, device):
        """``(rotation, probes or None, reference latents)`` from seed 0: the same on every rank."""
        g = torch.Generator().manual_seed(0)
        rotation, _ = torch.linalg.qr(torch.randn(z_dim, z_dim, generator=g))
        probes = None if out_size <= EXACT_MAX_OUTPUTS else [
            (torch.randint(0, 2, (out_size,), generator=g).float() * 2 - 1).to(device) for _ in range(self.probes)]
        reference = torch.randn(REFERENCE_LATENTS, z_dim, generator=g).to(device)
        return rotation.to(device), probes, reference

    def load_state_dict(self, state):
        self._cached = None  # restored weights: a new threshold

    def eval_generator(self, ctx, G):
        if self.q == 0:
            return G
        key = (ctx.step, id(G))
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        if self._draws is None:  # fixed for the run: drawn once, not at every step's threshold
            self._draws = self._fixed_draws(ctx.spec.z_dim, math.prod(ctx.data.shape), ctx.device)
        rotation, probes, reference = self._draws
        was_training = G.training
        G.eval()
        try:
            norms = torch.cat([jacobian_norms(G, chunk, probes) for chunk in reference.split(2500)])
        finally:
            G.train(was_training)
        threshold = float(torch.quantile(norms.cpu(), 1 - self.q))
        wrapped = TruncatedGenerator(G, threshold, rotation, probes, self.tries)
        self._cached = (key, wrapped)
        return wrapped
