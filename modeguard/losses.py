"""Adversarial losses as pure functions of D's raw outputs (logits / critic values).

Each loss is a pair: ``d(real_out, fake_out)`` is what D minimises and ``g(fake_out)`` is
what G minimises. All return the batch mean.

- ``minimax``: the article's formula. D maximises log D(x) + log(1 - D(G(z))); G minimises
  log(1 - D(G(z))). Saturates when D is confident, so G's gradient vanishes early on.
- ``ns``: the article's code (sigmoid cross-entropy with "ones" labels on fakes): G
  minimises -log D(G(z)) (Goodfellow 2014's non-saturating variant).
- ``wgan``: critic difference (Arjovsky 2017); needs a Lipschitz constraint (``gp``,
  ``spectral-norm``) to be meaningful.
- ``hinge``: Lim & Ye 2017 / Miyato 2018.
- ``lsgan``: least squares with targets 1 (real) and 0 (fake) (Mao 2017).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from .errors import ConfigError

Tensor = torch.Tensor


def minimax_d(real: Tensor, fake: Tensor) -> Tensor:
    """D's cross-entropy loss: ``-log sigmoid(real) - log(1 - sigmoid(fake))``, batch means.

    real / fake: D's logits ``(n,)`` or ``(n, 1)`` on real and generated samples; returns a 0-d tensor.
    """
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g(fake: Tensor) -> Tensor:
    """G's saturating loss ``log(1 - sigmoid(fake))`` (the article's formula); fake: D's logits; 0-d."""
    # log(1 - sigmoid(f)) = -softplus(f)
    return -F.softplus(fake).mean()


def ns_g(fake: Tensor) -> Tensor:
    """G's non-saturating loss ``-log sigmoid(fake)``; fake: D's logits ``(n,)`` / ``(n, 1)``; 0-d."""
    return F.softplus(-fake).mean()


def wgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """The critic's loss ``mean(fake) - mean(real)``; real / fake: critic values; 0-d."""
    return fake.mean() - real.mean()


def wgan_g(fake: Tensor) -> Tensor:
    """G's loss ``-mean(fake)`` (WGAN and hinge); fake: critic values; 0-d."""
    return -fake.mean()


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    """D's hinge loss ``mean(relu(1 - real)) + mean(relu(1 + fake))``; 0-d."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def lsgan_d(real: Tensor, fake: Tensor) -> Tensor:
    """D's least-squares loss with targets 1 (real) and 0 (fake), halved; 0-d."""
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()


def lsgan_g(fake: Tensor) -> Tensor:
    """G's least-squares loss with target 1, halved; 0-d."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


@dataclass(frozen=True)
class Loss:
    """A named pair of losses: ``d(real_out, fake_out)`` for D and ``g(fake_out)`` for G (0-d tensors)."""

    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    #: True when D's output is a logit of P(real), so cross-entropy tricks apply.
    probabilistic: bool


LOSSES: dict[str, Loss] = {
    "minimax": Loss("minimax", minimax_d, minimax_g, True),
    "ns": Loss("ns", minimax_d, ns_g, True),
    "wgan": Loss("wgan", wgan_d, wgan_g, False),
    "hinge": Loss("hinge", hinge_d, wgan_g, False),
    "lsgan": Loss("lsgan", lsgan_d, lsgan_g, False),
}


def get_loss(name: str) -> Loss:
    """The :class:`Loss` called ``name`` (a key of :data:`LOSSES`); raises :class:`ConfigError` otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss '{name}'; choose one of {', '.join(LOSSES)}") from None
