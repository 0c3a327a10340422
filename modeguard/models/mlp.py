"""Fully connected generator / discriminator, including the article's exact MLP."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
}


def _stack(sizes: list[int], activation: str, batchnorm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b))
        if batchnorm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(ACTIVATIONS[activation]())
    return layers


class MLPGenerator(nn.Module):
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
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pre_head(self.body(x)))


def mlp_discriminator(in_dim: int, hidden: list[int], out_dim: int = 1, activation: str = "leaky_relu",
                      batchnorm: bool = False, head_layers=()) -> HeadedDiscriminator:
    body = nn.Sequential(nn.Flatten(), *_stack([in_dim, *hidden], activation, batchnorm))
    return HeadedDiscriminator(body, hidden[-1] if hidden else in_dim, out_dim, head_layers)
