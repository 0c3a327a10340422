"""Fully connected generator / discriminator, including the article's exact MLP."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .spec import ACTIVATIONS, ModelSpec


def _stack(sizes: list[int], activation: str, batchnorm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b))
        if batchnorm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(ACTIVATIONS[activation]())
    return layers


class MLPGenerator(nn.Module):
    """z ``(n, z_dim)`` -> samples ``(n, *out_shape)``: Linear layers of widths ``hidden``
    with ``activation`` (and batch norm), then a linear (or ``output="tanh"``) last layer."""

    def __init__(self, z_dim: int, hidden: list[int], out_shape: tuple[int, ...],
                 activation: str = "relu", batchnorm: bool = False, output: str = "linear"):
        super().__init__()
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        out_dim = int(torch.Size(out_shape).numel())
        layers = _stack([z_dim, *hidden], activation, batchnorm)
        layers.append(nn.Linear(hidden[-1] if hidden else z_dim, out_dim))
        if output == "tanh":
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``(n, z_dim)`` -> ``(n, *out_shape)``."""
        return self.net(z).view(len(z), *self.out_shape)


class HeadedDiscriminator(nn.Module):
    """``body`` (features) -> ``pre_head`` (batch-level layers, e.g. minibatch stddev) -> ``head``.

    Every discriminator in ModeGuard has this shape so that strategies can read its
    features (feature matching) or splice layers in before its last layer.
    """

    def __init__(self, body: nn.Module, feature_dim: int, out_dim: int, head_layers=()):
        super().__init__()
        self.body = body
        extra: list[nn.Module] = []
        dim = feature_dim
        for factory in head_layers:
            module, dim = factory(dim)
            extra.append(module)
        self.pre_head = nn.Sequential(*extra)
        self.head = nn.Linear(dim, out_dim)
        self.feature_dim = feature_dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """D's input ``(n, ...)`` -> body features ``(n, feature_dim)``."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """D's input ``(n, ...)`` -> outputs ``(n, out_dim)``."""
        return self.head(self.pre_head(self.body(x)))


def mlp_discriminator(in_dim: int, hidden: list[int], out_dim: int = 1, activation: str = "leaky_relu",
                      batchnorm: bool = False, head_layers=()) -> HeadedDiscriminator:
    """Flattened input ``(n, in_dim)`` -> Linear layers of widths ``hidden`` -> ``(n, out_dim)``."""
    body = nn.Sequential(nn.Flatten(), *_stack([in_dim, *hidden], activation, batchnorm))
    return HeadedDiscriminator(body, hidden[-1] if hidden else in_dim, out_dim, head_layers)


def build_mlp(spec: ModelSpec, shape: tuple) -> tuple:
    """``(make_G, make_D)`` for the ``mlp`` architecture on samples of ``shape`` (D sees
    ``d_pack`` samples flattened side by side)."""

    def gen() -> MLPGenerator:
        return MLPGenerator(spec.z_dim, spec.g_hidden, shape, spec.activation, spec.g_batchnorm, spec.g_output)

    def disc() -> HeadedDiscriminator:
        return mlp_discriminator(int(np.prod(shape)) * spec.d_pack, spec.d_hidden, spec.d_out,
                                 spec.d_activation, spec.d_batchnorm, spec.d_head_layers)

    return gen, disc


#: the article's exact MLP (G 100-128-256-512-1024-out tanh, D in-512-256-128-1; its sigmoid
#: is folded into the loss, so D emits a logit)
SEED_MLP_PRESET = dict(arch="mlp", z_dim=100, g_hidden=[128, 256, 512, 1024], d_hidden=[512, 256, 128],
                       activation="relu", d_activation="relu", g_output="tanh")
