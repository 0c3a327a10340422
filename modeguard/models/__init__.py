"""Model builders, registered by architecture name.

``build_models(spec, data)`` returns ``(G, D)``. ``mlp`` is the small default for point
data; ``seed-mlp`` is the article's exact MLP (G 100-128-256-512-1024-784 tanh,
D 784-512-256-128-1; the article's sigmoid is folded into the loss, so D emits a logit).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from torch import nn

from ..errors import ConfigError
from .ensembles import MultiDiscriminator, MultiGenerator
from .mlp import HeadedDiscriminator, MLPGenerator, mlp_discriminator
from .spec import ModelSpec

Builder = Callable[[ModelSpec, tuple], "tuple[nn.Module, nn.Module]"]
_ARCHS: dict[str, Builder] = {}
#: presets: spec fields an architecture name sets before user options apply
PRESETS: dict[str, dict] = {
    "mlp": {},
    "seed-mlp": dict(arch="mlp", z_dim=100, g_hidden=[128, 256, 512, 1024], d_hidden=[512, 256, 128],
                     activation="relu", d_activation="relu", g_output="tanh"),
}


def register_arch(name: str):
    def deco(fn: Builder) -> Builder:
        _ARCHS[name] = fn
        return fn

    return deco


@register_arch("mlp")
def _build_mlp(spec: ModelSpec, shape: tuple):
    def gen():
        return MLPGenerator(spec.z_dim, spec.g_hidden, shape, spec.activation, spec.g_batchnorm, spec.g_output)

    def disc():
        return mlp_discriminator(int(np.prod(shape)) * spec.d_pack, spec.d_hidden, spec.d_out,
                                 spec.d_activation, spec.d_batchnorm, spec.d_head_layers)

    return gen, disc


def model_names() -> list[str]:
    return sorted(PRESETS)


def spec_for(model: str, options: dict | None = None) -> ModelSpec:
    if model not in PRESETS:
        raise ConfigError(f"unknown model '{model}'; choose one of {', '.join(model_names())}")
    fields = {**PRESETS[model], **(options or {})}
    unknown = set(fields) - set(ModelSpec.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown model option(s) {sorted(unknown)} for '{model}'")
    fields.setdefault("arch", model)
    spec = ModelSpec(**fields)
    spec.validate()
    return spec


def build_models(spec: ModelSpec, shape: tuple) -> tuple[nn.Module, nn.Module]:
    if spec.arch not in _ARCHS:
        raise ConfigError(f"unknown architecture '{spec.arch}'")
    gen, disc = _ARCHS[spec.arch](spec, tuple(shape))
    G = gen() if spec.num_generators == 1 else MultiGenerator([gen() for _ in range(spec.num_generators)])
    D = disc() if spec.num_discriminators == 1 else MultiDiscriminator([disc() for _ in range(spec.num_discriminators)])
    return G, D


from . import dcgan  # noqa: E402,F401  (registers the "dcgan" architecture and preset)

__all__ = ["ModelSpec", "MLPGenerator", "HeadedDiscriminator", "MultiGenerator", "MultiDiscriminator",
           "build_models", "spec_for", "register_arch", "PRESETS", "model_names"]
