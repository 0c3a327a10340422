"""Model builders by architecture name, presets, and the user's own models.

``spec_for(model, options)`` turns ``--model`` (a preset name, or ``FILE.py:NAME`` /
``package.module:NAME`` for a user factory) into a :class:`ModelSpec`; strategies may edit
it; ``build_models(spec, shape)`` returns ``(G, D)``. ``mlp`` is the small default for point
data; ``seed-mlp`` is the article's exact MLP; ``dcgan`` and ``resnet`` are convolutional
pairs for images.
Every architecture and preset is registered here, in :data:`ARCHS` and :data:`PRESETS`.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ..errors import ConfigError
from ..refs import is_ref
from .dcgan import DCGAN_PRESET, DCGANGenerator, build_dcgan, dcgan_discriminator
from .ensembles import MultiDiscriminator, MultiGenerator
from .mlp import SEED_MLP_PRESET, HeadedDiscriminator, MLPGenerator, build_mlp, mlp_discriminator
from .resnet import RESNET_PRESET, build_resnet
from .spec import MODULES_ARCH, USER_ARCH, ModelSpec
from .user import build_user_models, check_user_models, factory_accepts, user_models, user_spec

#: ``builder(spec, shape) -> (make_G, make_D)``: zero-argument constructors of one G and one D
Builder = Callable[[ModelSpec, tuple], "tuple[Callable[[], nn.Module], Callable[[], nn.Module]]"]

ARCHS: dict[str, Builder] = {
    "mlp": build_mlp,
    "dcgan": build_dcgan,
    "resnet": build_resnet,
}

#: presets: spec fields a ``--model`` name sets before user options apply
PRESETS: dict[str, dict] = {
    "mlp": {},
    "seed-mlp": SEED_MLP_PRESET,
    "dcgan": DCGAN_PRESET,
    "resnet": RESNET_PRESET,
}


def register_arch(name: str) -> Callable[[Builder], Builder]:
    """Decorator: add ``builder(spec, shape) -> (make_G, make_D)`` to :data:`ARCHS` (for extensions)."""

    def deco(fn: Builder) -> Builder:
        ARCHS[name] = fn
        return fn

    return deco


def model_names() -> list[str]:
    """The preset names ``--model`` accepts, sorted (besides ``FILE.py:NAME`` references)."""
    return sorted(PRESETS)


def spec_for(model: str, options: dict | None = None) -> ModelSpec:
    """The validated :class:`ModelSpec` for ``--model`` ``model`` with ``model_options`` ``options``.

    ``model`` is a preset name or a user factory reference (``FILE.py:NAME``,
    ``package.module:NAME``; see :func:`~modeguard.models.user.user_spec`). Raises
    :class:`ConfigError` for an unknown model, an unknown option or a value out of range.
    """
    if is_ref(model):
        return user_spec(model, options)
    if model not in PRESETS:
        raise ConfigError(f"unknown model {model!r}; choose one of {', '.join(model_names())} "
                          f"or give your own as FILE.py:NAME or package.module:NAME")
    fields = {**PRESETS[model], **(options or {})}
    user_only = {"factory", "factory_ref", "factory_options", "modules"}
    unknown = (set(fields) - set(ModelSpec.__dataclass_fields__)) | (set(fields) & user_only)
    if unknown:
        raise ConfigError(f"unknown model option(s) {sorted(unknown)} for '{model}'")
    fields.setdefault("arch", model)
    spec = ModelSpec(**fields)
    spec.validate()
    return spec


def build_models(spec: ModelSpec, shape: tuple) -> tuple[nn.Module, nn.Module]:
    """``(G, D)`` for ``spec`` and data samples of ``shape`` (``(d,)`` or ``(C, H, W)``).

    ModeGuard's architectures honour ``num_generators`` / ``num_discriminators`` (wrapped in
    :class:`MultiGenerator` / :class:`MultiDiscriminator`); user models are built and
    checked by :func:`~modeguard.models.user.build_user_models`. Raises :class:`ConfigError`.
    """
    if spec.is_user:
        return build_user_models(spec, shape)
    if spec.arch not in ARCHS:
        raise ConfigError(f"unknown architecture '{spec.arch}'")
    gen, disc = ARCHS[spec.arch](spec, tuple(shape))
    G = gen() if spec.num_generators == 1 else MultiGenerator([gen() for _ in range(spec.num_generators)])
    D = disc() if spec.num_discriminators == 1 else MultiDiscriminator([disc() for _ in range(spec.num_discriminators)])
    return G, D


__all__ = ["ARCHS", "DCGANGenerator", "HeadedDiscriminator", "MLPGenerator", "MODULES_ARCH", "ModelSpec",
           "MultiDiscriminator", "MultiGenerator", "PRESETS", "USER_ARCH", "build_models", "build_user_models",
           "check_user_models", "dcgan_discriminator", "factory_accepts", "mlp_discriminator", "model_names",
           "register_arch", "spec_for", "user_models", "user_spec"]
