"""The strategy hook interface, option parsing and the name registry.

GAN training has fixed phases; a strategy hooks into the ones it needs (the rest are
no-ops). The trainer calls, in order:

1. ``validate(config)``            before anything is built: incompatible settings -> ConfigError
2. ``configure_models(spec, ctx)`` edit the :class:`~modeguard.models.ModelSpec` (packing, K nets, BN, head layers)
3. ``setup(ctx)``                  edit the built models (spectral norm, freezing, warm start, EMA copy)
4. ``configure_optimizers(ctx)``   replace ``ctx.opt_g`` / ``ctx.opt_d`` (SGD, RMSprop, TTUR)
   then, every step:
5. ``d_inputs(ctx, real, fake)``   transform what D sees (instance noise, packing), D and G phases
6. ``d_loss(ctx, batch)``          extra D loss term (R1, GP, label smoothing), or None
7. ``g_step(ctx, step_fn)``        wrap the G step (unrolled D)
8. ``g_loss(ctx, batch)``          extra G loss term (feature matching), or None
9. ``after_step(ctx)``             EMA update, LR schedules, controllers
   and when sampling:
10. ``eval_generator(ctx, G)``     which generator produces samples (EMA copy)

Between 2 and 3, once the models exist, ``check_models(G, D, spec)`` refuses models that
lack what the strategy ``needs`` (see :mod:`modeguard.strategies.needs`).

``state_dict`` / ``load_state_dict`` carry a strategy's state through checkpoints. Setup
hooks run in ascending ``order`` (architecture edits before normalisation before freezing);
step hooks run in the order the user listed the strategies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from ..recipes import is_default_recipe
from ..errors import ConfigError
from .needs import Need


@dataclass(frozen=True)
class Option:
    """One option of a strategy: its type, default, allowed range or choices, and help."""

    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    def parse(self, strategy: str, name: str, value: Any) -> Any:
        """``value`` (a string from the command line, or a YAML value) as this option's type,
        checked against its range and choices. Raises :class:`ConfigError` (one line naming
        ``strategy`` and ``name``) for a wrong type, NaN/inf or a value out of range."""
        try:
            if self.type is bool and isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                value = value.lower() in ("true", "1", "yes")
            elif self.type is tuple:
                value = tuple(str(value).split("+")) if isinstance(value, str) else tuple(value)
            elif self.type is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            else:
                value = self.type(value)
        except (TypeError, ValueError):
            raise ConfigError(f"strategy '{strategy}': option '{name}' must be {self.type.__name__}, "
                              f"got {value!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"strategy '{strategy}': option '{name}' must be a finite number, got {value}")
        if self.low is not None and value < self.low:
            raise ConfigError(f"strategy '{strategy}': option '{name}' must be >= {self.low}, got {value}")
        if self.high is not None and value > self.high:
            raise ConfigError(f"strategy '{strategy}': option '{name}' must be <= {self.high}, got {value}")
        items = value if self.type is tuple else (value,)
        if self.choices is not None and any(v not in self.choices for v in items):
            raise ConfigError(f"strategy '{strategy}': option '{name}' must be one of "
                              f"{', '.join(map(str, self.choices))}, got {value!r}")
        return value


class Strategy:
    """Base class of every strategy: every hook is a no-op.

    Subclasses set ``name`` (the registry key), ``summary`` (one line for listings),
    ``remedies`` (the article's points it answers), ``options`` (name -> :class:`Option`),
    ``order`` (setup order, ascending) and ``needs`` (what the models must provide; empty
    when the strategy has a generic form that works on any G/D pair). Options are parsed
    and range-checked on construction and read as attributes (``self.gamma``); an unknown
    option raises ConfigError.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    remedies: ClassVar[tuple[int, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}
    order: ClassVar[int] = 50
    needs: ClassVar[tuple[Need, ...]] = ()
    #: True where the strategy differentiates through a gradient (R1, GP, unrolling): a
    #: double backward, which ``torch.compile`` cannot do (``--compile`` refuses it)
    double_backward: ClassVar[bool] = False
    #: True where ``eval_generator`` only filters what users draw (truncation): the collapse
    #: monitor watches the generator as trained, without it
    sampling_only: ClassVar[bool] = False

    def __init__(self, **opts):
        unknown = set(opts) - set(self.options)
        if unknown:
            known = ", ".join(self.options) or "none"
            raise ConfigError(f"strategy '{self.name}': unknown option '{sorted(unknown)[0]}' (options: {known})")
        self.opts = {k: o.default for k, o in self.options.items()}
        for k, v in opts.items():
            self.opts[k] = self.options[k].parse(self.name, k, v)

    def __getattr__(self, item):
        # options read as attributes: self.gamma
        opts = self.__dict__.get("opts")
        if opts is not None and item in opts:
            return opts[item]
        raise AttributeError(item)

    def spec_string(self) -> str:
        """``name:opt=v:...`` listing only the options that differ from their defaults."""
        changed = [f"{k}={'+'.join(v) if isinstance(v, tuple) else v}"
                   for k, v in self.opts.items() if v != self.options[k].default]
        return ":".join([self.name, *changed])

    def __repr__(self) -> str:
        return f"<strategy {self.spec_string()}>"

    # ---- hooks (no-ops) ----
    def validate(self, config) -> None:
        """Raise ConfigError when ``config`` (or another listed strategy) rules this one out."""

    def check_models(self, G: torch.nn.Module, D: torch.nn.Module, spec) -> None:
        """Raise ConfigError (one line: what the model must provide) when the built ``G`` / ``D``
        (made from the ``ModelSpec`` ``spec``, ModeGuard's or the user's) lack something in
        ``needs``. Called once the models are built, before ``setup``."""
        for need in self.needs:
            if not need.test(G, D, spec):
                raise ConfigError(f"strategy '{self.name}' needs {need.what}")

    def configure_models(self, spec, ctx) -> None:
        """Edit the ``ModelSpec`` before ModeGuard builds its models (ignored for user models)."""

    def setup(self, ctx) -> None:
        """Edit the built models ``ctx.G`` / ``ctx.D`` (before their optimizers exist)."""

    def configure_optimizers(self, ctx) -> None:
        """Replace or adjust ``ctx.opt_g`` / ``ctx.opt_d``."""

    def d_inputs(self, ctx, real: torch.Tensor, fake: torch.Tensor):
        """``(real_in, fake_in)``: what D sees of the batches ``(n, ...)``, in both phases."""
        return real, fake

    def wants_real_grad(self, ctx) -> bool:
        """True where this D step's ``d_loss`` needs the gradient of ``batch.d_real`` with
        respect to ``batch.real_in`` (R1): D's inputs then require grad and the adversarial
        loss's forward pass on reals is shared with the penalty instead of repeated."""
        return False

    def d_loss(self, ctx, batch) -> torch.Tensor | None:
        """An extra 0-d term for D's loss (after the adversarial loss filled ``batch``), or None."""
        return None

    def g_step(self, ctx, step_fn: Callable[[], Any]):
        """Run G's step ``step_fn`` (possibly inside a context, e.g. an unrolled D); return its result."""
        return step_fn()

    def g_loss(self, ctx, batch) -> torch.Tensor | None:
        """An extra 0-d term for G's loss, or None."""
        return None

    def after_step(self, ctx) -> None:
        """Called after every full step (``ctx.step`` already counts it): averages, schedules."""

    def eval_generator(self, ctx, G: torch.nn.Module) -> torch.nn.Module:
        """The generator to sample from, given the one chosen so far (e.g. an EMA copy)."""
        return G

    def state_dict(self) -> dict:
        """The strategy's state for checkpoints (tensors, numbers, strings, containers of them)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: file ``cls`` in the registry under ``cls.name`` (TypeError without one)."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type[Strategy]]:
    """``{name: strategy class}`` of every registered strategy (a copy).

    Complete whenever this module was imported through its package: the package's
    ``__init__`` imports every strategy module, which registers it.
    """
    return dict(_REGISTRY)


def split_specs(text: str) -> list[str]:
    """'r1:gamma=1,every=4,ema' -> ['r1:gamma=1:every=4', 'ema'] (a bare k=v joins the previous).

    Raises ConfigError for an empty entry (``'r1,,ema'``, ``','``): a typo must not quietly
    mean fewer strategies, or the plain GAN."""
    specs: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            raise ConfigError(f"strategy list '{text.strip()}' has an empty entry")
        if "=" in token and ":" not in token and specs:
            specs[-1] += ":" + token
        else:
            specs.append(token)
    return specs


def parse_strategy(item) -> Strategy:
    """Build one strategy from ``"name:opt=v:opt=v"`` or ``{"name": ..., opt: v}``."""
    reg = registry()
    if isinstance(item, Strategy):
        return item
    if isinstance(item, dict):
        item = dict(item)
        name = item.pop("name", None)
        opts = item
        if not all(isinstance(k, str) for k in opts):
            raise ConfigError(f"strategy '{name}': option names must be strings")
    elif isinstance(item, str):
        name, *parts = item.strip().split(":")
        opts = {}
        for part in parts:
            key, eq, value = part.partition("=")
            if not eq:
                raise ConfigError(f"strategy '{name}': option '{part}' must look like key=value")
            if key.strip() in opts:  # silently keeping the last value hides a typo
                raise ConfigError(f"strategy '{name}': option '{key.strip()}' is given twice")
            opts[key.strip()] = value.strip()
    else:
        raise ConfigError(f"a strategy must be a string or a mapping, got {item!r}")
    if not isinstance(name, str) or name not in reg:
        raise ConfigError(f"unknown strategy '{name}'; run 'modeguard strategies' for the list")
    return reg[name](**opts)


def parse_strategies(value) -> list[Strategy]:
    """``"a,b:x=1"``, ``"none"``, or a list of strings / mappings -> strategy objects."""
    if value is None:
        return []
    items = value
    if isinstance(value, str):
        if value.strip().lower() in ("none", ""):
            return []
        if is_default_recipe(value):
            raise ConfigError("'default' stands for the data kind's recipe and is expanded when the run is "
                              "built (TrainConfig.for_kind); it cannot be combined with other strategies")
        items = split_specs(value)
    strategies = [parse_strategy(i) for i in items]
    names = [s.name for s in strategies]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"strategy '{sorted(dup)[0]}' is listed twice")
    return strategies
