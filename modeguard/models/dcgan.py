"""DCGAN-style convolutional G and D (Radford et al. 2016) for square images.

Both halve / double the resolution with 4x4 stride-2 (transposed) convolutions. The image
side is halved (while even) at most three times down to a start size ``s0``:
8 -> 2 (2 steps), 28 -> 7 (2), 32 -> 4 (3), 64 -> 8 (3). With width ``w``
(``ModelSpec.channels``) and ``k`` steps, the maps carry ``w * 2**(k-1)`` channels at
``s0`` and halve their channels at each doubling; G's last layer emits the image's
channels through tanh (model space is [-1, 1]).

ModelSpec fields used: ``z_dim``, ``channels`` (width), ``g_channels`` (G's width, when it
differs), ``g_batchnorm``, ``d_batchnorm``
(every D conv but the first), ``d_pack`` (D's input channels = C * d_pack, PacGAN),
``d_out`` and ``d_head_layers`` (spliced in before D's last layer).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .mlp import HeadedDiscriminator
from .spec import ModelSpec

MAX_DOUBLINGS = 3

#: spec fields ``--model dcgan`` sets before user options apply
DCGAN_PRESET = dict(arch="dcgan", z_dim=64, channels=64, g_batchnorm=True)


def resolution_plan(size: int) -> tuple[int, int]:
    """``(s0, k)``: start side and number of doublings that reach ``size``."""
    s0, k = size, 0
    while s0 % 2 == 0 and s0 // 2 >= 2 and k < MAX_DOUBLINGS:
        s0, k = s0 // 2, k + 1
    return s0, k


def square_image(model: str, shape: tuple) -> tuple[int, int]:
    """``(channels, side)`` of square image data ``(C, H, H)``; :class:`ConfigError` naming
    ``model`` for point data or non-square images."""
    if len(shape) != 3:
        raise ConfigError(f"model '{model}' needs image data (C, H, W), got data of shape {shape}; "
                          f"use --model mlp for point data")
    c, h, w = shape
    if h != w:
        raise ConfigError(f"model '{model}' needs square images, got {h}x{w}")
    return c, h


def _plan(shape: tuple) -> tuple[int, int, int]:
    c, h = square_image("dcgan", shape)
    s0, k = resolution_plan(h)
    if k == 0:
        raise ConfigError(f"model 'dcgan' needs an even image side (8, 28, 32, ...), got {h}")
    return c, s0, k


def _init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: N(0, 0.02) weights, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z ``(n, z_dim)`` -> images ``(n, C, H, W)`` in [-1, 1] for ``out_shape`` ``(C, H, W)``.

    Raises :class:`ConfigError` for a shape the plan cannot reach (not square, odd side).
    """

    def __init__(self, z_dim: int, out_shape: tuple, width: int = 64, batchnorm: bool = True):
        super().__init__()
        c, s0, k = _plan(out_shape)
        self.z_dim = z_dim
        self.out_shape = tuple(out_shape)
        chans = [width * 2 ** (k - 1 - i) for i in range(k)]  # channels at s0, 2 s0, ...
        self.project = nn.Sequential(nn.Linear(z_dim, chans[0] * s0 * s0),
                                     *( [nn.BatchNorm1d(chans[0] * s0 * s0)] if batchnorm else []), nn.ReLU())
        self.start = (chans[0], s0, s0)
        layers: list[nn.Module] = []
        for a, b in zip(chans[:-1], chans[1:]):
            layers.append(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.ReLU())
        layers += [nn.ConvTranspose2d(chans[-1], c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z ``(n, z_dim)`` -> ``(n, C, H, W)``."""
        return self.net(self.project(z).view(len(z), *self.start))


class AsImages(nn.Module):
    """Accepts (n, C', H, W) or its flattened (n, C' * H * W) form (packed inputs come either way)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, ...)`` with ``prod(shape)`` values per row -> ``(n, *shape)``."""
        return x.reshape(len(x), *self.shape)

    def extra_repr(self) -> str:
        """The target shape, for ``print(model)``."""
        return f"shape={self.shape}"


def dcgan_discriminator(in_shape: tuple, width: int = 64, batchnorm: bool = False, pack: int = 1,
                        out_dim: int = 1, head_layers=()) -> HeadedDiscriminator:
    """images (n, C * pack, H, W) -> (n, out_dim); ``features`` are the flattened last conv maps."""
    c, s0, k = _plan(in_shape)
    h = in_shape[1]
    chans = [width * 2 ** i for i in range(k)]  # channels at H/2, H/4, ..., s0
    layers: list[nn.Module] = [AsImages((c * pack, h, h))]
    prev = c * pack
    for i, ch in enumerate(chans):
        layers.append(nn.Conv2d(prev, ch, 4, 2, 1, bias=not (batchnorm and i > 0)))
        if batchnorm and i > 0:
            layers.append(nn.BatchNorm2d(ch))
        layers.append(nn.LeakyReLU(0.2))
        prev = ch
    layers.append(nn.Flatten())
    D = HeadedDiscriminator(nn.Sequential(*layers), chans[-1] * s0 * s0, out_dim, head_layers)
    D.apply(_init_weights)
    return D


def build_dcgan(spec: ModelSpec, shape: tuple) -> tuple:
    """``(make_G, make_D)`` for the ``dcgan`` architecture on images of ``shape`` ``(C, H, W)``.

    Raises :class:`ConfigError` at once for point data or an unsupported image side.
    """
    _plan(shape)  # fail early with a clear message

    def gen():
        return DCGANGenerator(spec.z_dim, shape, spec.g_channels or spec.channels, spec.g_batchnorm)

    def disc():
        return dcgan_discriminator(shape, spec.channels, spec.d_batchnorm, spec.d_pack, spec.d_out,
                                   spec.d_head_layers)

    return gen, disc
