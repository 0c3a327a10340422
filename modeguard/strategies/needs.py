"""What a strategy needs from the run's models, checked before training.

ModeGuard trains its own presets (built from a :class:`~modeguard.models.ModelSpec` that
strategies may edit) and user models (``spec.is_user``: ready-made modules, or a factory
``NAME(shape, **options)``). Most strategies have a generic form that works on any G/D
pair; the few that edit an architecture declare a :class:`Need` in their ``needs``, and
:meth:`Strategy.check_models <modeguard.strategies.base.Strategy.check_models>` refuses
models that lack it with one line saying what the model must provide.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..models import USER_ARCH, ModelSpec, factory_accepts

PACK_OPTION = "pack"


def is_preset(spec: ModelSpec) -> bool:
    """True when ModeGuard's builder made the models from ``spec`` (its edits are in them)."""
    return not spec.is_user


def factory_takes_pack(spec: ModelSpec) -> bool:
    """True when the models come from a user factory that accepts ``pack=m``."""
    return spec.arch == USER_ARCH and spec.factory is not None and factory_accepts(spec.factory, PACK_OPTION)


@dataclass(frozen=True)
class Need:
    """One requirement on the models: ``what`` completes "strategy 'x' needs ..."; ``test``
    takes ``(G, D, spec)`` and returns whether the models meet it."""

    what: str
    test: Callable[[nn.Module, nn.Module, ModelSpec], bool]


def _has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


#: the strategy edits ModeGuard's ModelSpec (batch norm, K generators with a (K+1)-way D)
PRESET_MODELS = Need("ModeGuard's own models (a --model preset such as mlp or dcgan), since it rebuilds their "
                     "architecture; with your own models build that change into them",
                     lambda G, D, spec: is_preset(spec))

#: feature matching reads D's features
D_FEATURES = Need("a discriminator with a features(x) method (the activations before its last layer)",
                  lambda G, D, spec: callable(getattr(D, "features", None)))

#: packing: ModeGuard's D, or a user factory that builds D for m packed samples
PACK_FACTORY = Need("ModeGuard's own models or a model factory that accepts a 'pack' option (D then takes "
                    "pack samples concatenated along the feature / channel axis)",
                    lambda G, D, spec: is_preset(spec) or factory_takes_pack(spec))

#: a per-sample gradient penalty is meaningless when D mixes the rows of a batch
D_WITHOUT_BATCHNORM = Need("a discriminator without batch norm (batch norm mixes the samples, so a "
                           "per-sample gradient penalty is invalid)",
                           lambda G, D, spec: not _has_batchnorm(D))


def d_has_layer(layer: type[nn.Module]) -> Need:
    """ModeGuard's own D, or a user D that contains a ``layer`` (e.g. ``modeguard.nn.MinibatchStdDev``)."""
    return Need(f"ModeGuard's own models or a discriminator containing a modeguard.nn.{layer.__name__} "
                f"layer (put one before D's last layer)",
                lambda G, D, spec: is_preset(spec) or any(isinstance(m, layer) for m in D.modules()))
