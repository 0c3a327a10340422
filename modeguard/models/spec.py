"""What to build, as plain data that strategies may edit before the models exist."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

#: ``factory(in_features) -> (module, out_features)``: a layer spliced in before D's last layer.
HeadLayer = Callable[[int], "tuple[nn.Module, int]"]


@dataclass
class ModelSpec:
    arch: str = "mlp"
    z_dim: int = 16
    g_hidden: list[int] = field(default_factory=lambda: [128, 128, 128])
    d_hidden: list[int] = field(default_factory=lambda: [128, 128, 128])
    activation: str = "relu"
    d_activation: str = "leaky_relu"
    g_output: str = "linear"  # "linear" or "tanh"
    g_batchnorm: bool = False
    d_batchnorm: bool = False
    #: D sees this many samples packed into one input (PacGAN)
    d_pack: int = 1
    #: outputs per D input (MAD-GAN uses K + 1 classes)
    d_out: int = 1
    d_head_layers: list[HeadLayer] = field(default_factory=list)
    num_generators: int = 1
    num_discriminators: int = 1
    #: conv width multiplier for image architectures
    channels: int = 64
