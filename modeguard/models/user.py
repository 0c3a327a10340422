"""The user's own G and D: built by a factory, or handed over ready-made.

A factory is named ``--model FILE.py:NAME`` or ``--model package.module:NAME`` and called
as ``NAME(shape, **options)`` with the data's sample shape (``(d,)`` or ``(C, H, W)``) and
``config.model_options``; it returns ``(G, D)``, any two ``nn.Module``s where

- G maps standard-normal latents ``(n, z_dim)`` to samples ``(n, *shape)`` (on the data's
  model scale: standardised points, images in [-1, 1]);
- D maps samples to logits ``(n,)`` or ``(n, 1)``.

``z_dim`` is ``G.z_dim`` where G sets it, else the ``z_dim`` model option, else the
:class:`ModelSpec` default. When the pacgan strategy packs ``m`` samples into one D input
and the factory accepts a ``pack`` keyword (or ``**kwargs``), it gets ``pack=m`` and must
build a D for inputs of ``m`` samples concatenated along the feature / channel axis.
Both models are checked with a tiny forward pass when built; whatever is wrong is one
:class:`~modeguard.errors.ConfigError` line.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError
from ..refs import load_object
from .spec import MODULES_ARCH, USER_ARCH, ModelSpec

#: samples per pack in the build-time check (times the packing degree)
CHECK_PACKS = 2
PACK_OPTION = "pack"


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def factory_parameters(factory: Callable) -> tuple[set[str], bool]:
    """Keyword names ``factory`` accepts (besides the first, ``shape``) and whether it takes ``**kwargs``."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # no signature to read (some builtins): accept anything
        return set(), True
    keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in params[1:] if p.kind in keyword_kinds}
    if params and params[0].kind == inspect.Parameter.KEYWORD_ONLY:
        names.add(params[0].name)
    return names, any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)


def factory_accepts(factory: Callable, option: str) -> bool:
    """True when ``factory(shape, **options)`` takes ``option`` as a keyword."""
    names, any_keyword = factory_parameters(factory)
    return any_keyword or option in names


def user_spec(factory: str | Callable, options: dict | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of a user model factory.

    factory: a reference (``FILE.py:NAME`` / ``package.module:NAME``, loaded with
    :func:`modeguard.refs.load_object`) or the callable itself. options: keywords for it
    (``config.model_options``); ``z_dim`` among them also sets the latent size (and is
    passed on only when the factory takes it). Raises :class:`ConfigError` for a bad
    reference or an option the factory does not accept.
    """
    ref = factory if isinstance(factory, str) else None
    fn = load_object(factory) if ref is not None else factory
    if not callable(fn):
        raise ConfigError(f"model factory must be callable, got a {type(fn).__name__}")
    options = dict(options or {})
    label = ref or getattr(fn, "__qualname__", repr(fn))
    names, any_keyword = factory_parameters(fn)
    unknown = sorted(str(k) for k in options if k not in names and k != "z_dim" and k != PACK_OPTION)
    if unknown and not any_keyword:
        takes = ", ".join(sorted(names)) or "no options"
        raise ConfigError(f"model {label} does not accept option(s) {', '.join(map(repr, unknown))} "
                          f"(it takes {takes})")
    if PACK_OPTION in options:
        raise ConfigError(f"model option '{PACK_OPTION}' is set by the pacgan strategy; use --strategy pacgan:m=K")
    spec = ModelSpec(arch=USER_ARCH, factory=fn, factory_ref=ref, factory_options=options)
    if "z_dim" in options:
        spec.z_dim = options["z_dim"]
    spec.validate()
    return spec


def user_models(generator: nn.Module, discriminator: nn.Module, z_dim: int | None = None) -> ModelSpec:
    """The :class:`ModelSpec` of ready-made user modules (the Python API's ``generator=G, discriminator=D``).

    z_dim: the latent size when ``generator`` has no ``z_dim`` attribute. Raises
    :class:`ConfigError` when either is not an ``nn.Module`` or no latent size is known.
    The modules are checked against the data's shape when :func:`build_user_models` runs.
    """
    for role, module in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(module, nn.Module):
            raise ConfigError(f"{role} must be a torch.nn.Module, got a {type(module).__name__}")
    spec = ModelSpec(arch=MODULES_ARCH, modules=(generator, discriminator))
    spec.z_dim = latent_size(generator, z_dim if z_dim is not None else spec.z_dim)
    spec.validate()
    return spec


def latent_size(generator: nn.Module, default: int) -> int:
    """``generator.z_dim`` where it is a positive integer, else ``default``."""
    z = getattr(generator, "z_dim", None)
    if isinstance(z, int) and not isinstance(z, bool) and z >= 1:
        return z
    return default


def _call_factory(spec: ModelSpec, shape: tuple, pack: int) -> tuple[nn.Module, nn.Module]:
    label = spec.factory_ref or getattr(spec.factory, "__qualname__", "the model factory")
    options = dict(spec.factory_options)
    if "z_dim" in options and not factory_accepts(spec.factory, "z_dim"):
        options.pop("z_dim")  # the latent size only
    if pack > 1:
        options[PACK_OPTION] = pack
    try:
        built = spec.factory(tuple(shape), **options)
    except Exception as e:  # user code may raise anything
        raise ConfigError(f"model {label}: building the models for data of shape {tuple(shape)} failed: "
                          f"{_one_line(e)}") from None
    if not (isinstance(built, (tuple, list)) and len(built) == 2):
        raise ConfigError(f"model {label} must return (G, D), got a {type(built).__name__}")
    for role, module in zip(("G", "D"), built):
        if not isinstance(module, nn.Module):
            raise ConfigError(f"model {label} returned a {type(module).__name__} as {role}; "
                              f"it must be a torch.nn.Module")
    return built[0], built[1]


def build_user_models(spec: ModelSpec, shape: tuple) -> tuple[nn.Module, nn.Module]:
    """``(G, D)`` for a user :class:`ModelSpec` and data samples of ``shape``, checked.

    Calls the factory (passing ``pack=spec.d_pack`` when packing is asked for and the
    factory accepts it) or takes ``spec.modules``; sets ``spec.z_dim`` from ``G.z_dim``
    where G has one. Raises :class:`ConfigError` (one line) when building fails or the
    models do not fit the data (see :func:`check_user_models`).
    """
    packing = spec.arch == USER_ARCH and spec.d_pack > 1 and factory_accepts(spec.factory, PACK_OPTION)
    pack = spec.d_pack if packing else 1
    if spec.arch == USER_ARCH:
        G, D = _call_factory(spec, shape, pack)
    elif spec.arch == MODULES_ARCH and spec.modules is not None:
        G, D = spec.modules
    else:
        raise ConfigError(f"model spec '{spec.arch}' holds no user models")
    spec.z_dim = latent_size(G, spec.z_dim)
    check_user_models(G, D, shape, spec.z_dim, pack)
    return G, D


def pack_samples(x: torch.Tensor, m: int) -> torch.Tensor:
    """Groups of ``m`` consecutive samples side by side: points ``(B, ...)`` -> ``(B/m, m * prod)``,
    images ``(B, C, H, W)`` -> ``(B/m, m * C, H, W)`` (the layout the pacgan strategy feeds D)."""
    if x.dim() == 4:
        return x.reshape(len(x) // m, m * x.shape[1], *x.shape[2:])
    return x.reshape(len(x) // m, -1)


def _device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _forward(module: nn.Module, x: torch.Tensor, what: str) -> torch.Tensor:
    """``module(x)`` in eval mode without gradients (the check leaves no trace on the module)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as e:  # user code may raise anything
        raise ConfigError(f"{what} failed: {_one_line(e)}") from None
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"{what} returned a {type(out).__name__}, not a tensor")
    return out


def check_user_models(G: nn.Module, D: nn.Module, shape: tuple, z_dim: int, pack: int = 1) -> None:
    """Check with a tiny forward pass that G and D fit data samples of ``shape``.

    G must map ``(n, z_dim)`` to ``(n, *shape)``; D must map that (``pack`` samples packed
    per input) to ``(n / pack,)`` or ``(n / pack, 1)``. Raises :class:`ConfigError` naming
    what is wrong. Leaves the modules' training mode and weights as they were.
    """
    shape = tuple(int(s) for s in shape)
    n = CHECK_PACKS * pack
    z = torch.randn(n, z_dim, device=_device_of(G))
    hint = " (set G.z_dim or the model option z_dim)"
    x = _forward(G, z, f"G(z) with z of shape {tuple(z.shape)}{hint}")
    if tuple(x.shape) != (n, *shape):
        raise ConfigError(f"G maps z {tuple(z.shape)} to {tuple(x.shape)}, but the data's samples are "
                          f"{shape}: G must return (n, {', '.join(map(str, shape))})")
    d_in = pack_samples(x.float(), pack).to(_device_of(D))
    packed = f" ({pack} samples packed per input)" if pack > 1 else ""
    out = _forward(D, d_in, f"D(x) with x of shape {tuple(d_in.shape)}{packed}")
    rows = n // pack
    if tuple(out.shape) not in ((rows,), (rows, 1)):
        raise ConfigError(f"D maps x {tuple(d_in.shape)} to {tuple(out.shape)}; it must return one logit "
                          f"per input, ({rows},) or ({rows}, 1)")
