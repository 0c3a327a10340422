"""What to build, as plain data that strategies may edit before the models exist."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ..errors import ConfigError

#: ``factory(in_features) -> (module, out_features)``: a layer spliced in before D's last layer.
HeadLayer = Callable[[int], "tuple[nn.Module, int]"]

#: activation name -> module factory (the names ``activation`` / ``d_activation`` accept)
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
}

#: ``arch`` of user models built by a factory ``NAME(shape, **options) -> (G, D)``
USER_ARCH = "user"
#: ``arch`` of user models handed over already built
MODULES_ARCH = "modules"


@dataclass
class ModelSpec:
    """Everything ModeGuard needs to build G and D, as data strategies may edit first.

    ``arch`` names a builder (``mlp``, ``dcgan``) or is :data:`USER_ARCH` (``factory``
    builds the models from ``factory_options``; ``factory_ref`` is its reference, as
    recorded in config.yaml) or :data:`MODULES_ARCH` (``modules`` holds the user's (G, D)).
    Strategies' architecture edits (``d_pack``, ``d_head_layers``, ...) apply to ModeGuard's
    own builders; for user models only ``d_pack`` is honoured, as the factory's ``pack``.
    """

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
    #: G's width where it differs from D's (image architectures; None: ``channels``)
    g_channels: int | None = None
    #: user models: ``factory(shape, **factory_options) -> (G, D)``, named by ``factory_ref``
    factory: Callable | None = None
    factory_ref: str | None = None
    factory_options: dict = field(default_factory=dict)
    #: user models handed over built: ``(G, D)``
    modules: tuple | None = None

    @property
    def is_user(self) -> bool:
        """True for the user's own models (a factory or ready-made modules)."""
        return self.arch in (USER_ARCH, MODULES_ARCH)

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first model option of the wrong type or range."""

        def fail(name, what):
            raise ConfigError(f"model option {name} must be {what}, got {getattr(self, name)!r}")

        def is_int(v, low):
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        if self.is_user:  # the factory validates its own options
            if not is_int(self.z_dim, 1):
                fail("z_dim", "an integer >= 1")
            return
        for name in ("z_dim", "d_pack", "d_out", "num_generators", "num_discriminators", "channels"):
            if not is_int(getattr(self, name), 1):
                fail(name, "an integer >= 1")
        if self.g_channels is not None and not is_int(self.g_channels, 1):
            fail("g_channels", "an integer >= 1 (or null: channels)")
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
