"""What to build, as plain data that strategies may edit before the models exist."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ..errors import ConfigError

#: ``factory(in_features) -> (module, out_features)``: a layer spliced in before D's last layer.
HeadLayer = Callable[[int], "tuple[nn.Module, int]"]


@dataclass
class ModelSpec:
    arch: str = "mlp"
    z_dim: int = 16
    # four hidden layers in G: sharper jumps between modes than three (fewer off-mode samples)
    g_hidden: list[int] = field(default_factory=lambda: [128, 128, 128, 128])
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

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first model option of the wrong type or range."""
        from .mlp import ACTIVATIONS

        def fail(name, what):
            raise ConfigError(f"model option {name} must be {what}, got {getattr(self, name)!r}")

        def is_int(v, low):
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        for name in ("z_dim", "d_pack", "d_out", "num_generators", "num_discriminators", "channels"):
            if not is_int(getattr(self, name), 1):
                fail(name, "an integer >= 1")
        for name in ("g_hidden", "d_hidden"):
            v = getattr(self, name)
            if not isinstance(v, (list, tuple)) or not all(is_int(w, 1) for w in v):
                fail(name, "a list of layer widths >= 1")
        for name in ("activation", "d_activation"):
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in ACTIVATIONS:
                fail(name, f"one of {', '.join(ACTIVATIONS)}")
        if self.g_output not in ("linear", "tanh"):
            fail("g_output", "linear or tanh")
        for name in ("g_batchnorm", "d_batchnorm"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "true or false")
