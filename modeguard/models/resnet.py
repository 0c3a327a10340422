"""SNGAN-style residual G and D (Miyato et al. 2018; Gulrajani et al. 2017's blocks) for
square images: ``--model resnet``.

G: z -> Linear -> ``(w, s0, s0)`` -> ``k`` up-blocks -> BN, ReLU, 3x3 conv -> tanh. An
up-block is ``BN, ReLU, nearest x2 upsampling, 3x3 conv, BN, ReLU, 3x3 conv`` plus a
shortcut ``upsampling, 1x1 conv``.

D: ``k`` down-blocks, then one block at ``s0`` without downsampling, ReLU and a sum over
positions -> ``w`` features -> the head (``HeadedDiscriminator``, so packing, minibatch
layers and feature matching work as on the DCGAN). A down-block is ``ReLU, 3x3 conv,
ReLU, 3x3 conv, 2x2 average pooling`` plus a shortcut ``1x1 conv, average pooling``; the
first block starts with the conv (SNGAN's "optimised" block, no ReLU on the input image).
Spectral normalisation of D (SNGAN) is ``--strategy spectral-norm``; D has no batch norm.

Resolution plan: the side is halved while it is even and its half is >= 4, giving
``(s0, k)``: 8 -> (4, 1), 28 -> (7, 2) (MNIST / Fashion-MNIST without resizing),
32 -> (4, 3), 64 -> (4, 4). An odd side, or one that does not halve to >= 4, is refused.

ModelSpec fields used: ``z_dim``, ``channels`` (the constant width ``w`` of every block;
SNGAN's CIFAR-10 nets use 256 in G and 128 in D, the preset uses 64 for CPU budgets),
``g_channels`` (G's width, when it differs from D's),
``g_batchnorm``, ``d_pack``, ``d_out``, ``d_head_layers``. Weights start Xavier-uniform
(gain sqrt 2 in the residual path, 1 in shortcuts and linear layers), as in SNGAN.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from .dcgan import AsImages, square_image
from .mlp import HeadedDiscriminator
from .spec import ModelSpec

#: the ``--model resnet`` preset (registered in :mod:`modeguard.models`)
RESNET_PRESET = dict(arch="resnet", z_dim=128, channels=64, g_batchnorm=True)


def resnet_plan(size: int) -> tuple[int, int]:
    """``(s0, k)``: start side and number of doublings (halvings in D) that reach ``size``."""
    s0, k = size, 0
    while s0 % 2 == 0 and s0 // 2 >= 4:
        s0, k = s0 // 2, k + 1
    return s0, k


def _plan(shape: tuple) -> tuple[int, int, int]:
    c, h = square_image("resnet", shape)
    s0, k = resnet_plan(h)
    if k == 0:
        raise ConfigError(f"model 'resnet' needs an even image side that halves to 4 or more (8, 28, 32, 64, "
                          f"...), got {h}")
    return c, s0, k


def _conv(cin: int, cout: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(cin, cout, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


class UpBlock(nn.Module):
    """``(n, cin, s, s)`` -> ``(n, cout, 2s, 2s)``: pre-activation residual block with
    nearest-neighbour upsampling."""

    def __init__(self, cin: int, cout: int, batchnorm: bool = True):
        super().__init__()
        norm = (lambda ch: nn.BatchNorm2d(ch)) if batchnorm else (lambda ch: nn.Identity())
        self.bn1, self.bn2 = norm(cin), norm(cout)
        self.conv1 = _conv(cin, cout, 3, math.sqrt(2))
        self.conv2 = _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """``(n, cin, s, s)`` -> ``(n, cout, s/2, s/2)`` (or ``s`` when ``down`` is False).
    ``first``: no ReLU on the input (the block that sees the image)."""

    def __init__(self, cin: int, cout: int, down: bool = True, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = _conv(cin, cout, 3, math.sqrt(2))
        self.conv2 = _conv(cout, cout, 3, math.sqrt(2))
        self.shortcut = _conv(cin, cout, 1, 1.0) if (cin != cout or down) else None

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self._pool(self.conv2(F.relu(self.conv1(h))))
        if self.shortcut is None:
            return h + x
        # SNGAN's order: the first block pools before its 1x1 conv, the others after
        skip = self.shortcut(self._pool(x)) if self.first else self._pool(self.shortcut(x))
        return h + skip


class ResNetGenerator(nn.Module):
    """z ``(n, z_dim)`` -> images ``(n, C, H, W)`` in [-1, 1]."""

    def __init__(self, z_dim: int, out_shape: tuple, width: int = 64, batchnorm: bool = True):
        super().__init__()
        c, s0, k = _plan(out_shape)
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        self.start = (width, s0, s0)
        self.project = nn.Linear(z_dim, width * s0 * s0)
        nn.init.xavier_uniform_(self.project.weight)
        nn.init.zeros_(self.project.bias)
        self.blocks = nn.Sequential(*[UpBlock(width, width, batchnorm) for _ in range(k)])
        self.out_norm = nn.BatchNorm2d(width) if batchnorm else nn.Identity()
        self.to_image = _conv(width, c, 3, 1.0)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.project(z).view(len(z), *self.start))
        return torch.tanh(self.to_image(F.relu(self.out_norm(h))))


class _SumPool(nn.Module):
    """``(n, C, H, W)`` -> ``(n, C)``: ReLU then the sum over positions (SNGAN's D)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x).sum(dim=(2, 3))


def resnet_discriminator(in_shape: tuple, width: int = 64, pack: int = 1, out_dim: int = 1,
                         head_layers=()) -> HeadedDiscriminator:
    """images ``(n, C * pack, H, W)`` (or flattened) -> ``(n, out_dim)``; ``features`` are
    the ``width`` pooled channels."""
    c, _, k = _plan(in_shape)
    h = in_shape[1]
    blocks: list[nn.Module] = [AsImages((c * pack, h, h)), DownBlock(c * pack, width, first=True)]
    blocks += [DownBlock(width, width) for _ in range(k - 1)]
    blocks += [DownBlock(width, width, down=False), _SumPool()]
    D = HeadedDiscriminator(nn.Sequential(*blocks), width, out_dim, head_layers)
    nn.init.xavier_uniform_(D.head.weight)
    nn.init.zeros_(D.head.bias)
    return D


def build_resnet(spec: ModelSpec, shape: tuple) -> tuple:
    """``(make_G, make_D)`` for ``spec`` and images of ``shape``; raises ConfigError for
    data the ResNet cannot take (checked here, before anything is built)."""
    _plan(shape)

    def gen():
        return ResNetGenerator(spec.z_dim, shape, spec.g_channels or spec.channels, spec.g_batchnorm)

    def disc():
        return resnet_discriminator(shape, spec.channels, spec.d_pack, spec.d_out, spec.d_head_layers)

    return gen, disc
