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
    """Base class: every hook is a no-op. Subclasses set ``name``, ``summary``,
    ``remedies`` (the article's points it answers) and ``options``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    remedies: ClassVar[tuple[int, ...]] = ()
    options: ClassVar[dict[str, Option]] = {}
    order: ClassVar[int] = 50

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
        changed = [f"{k}={'+'.join(v) if isinstance(v, tuple) else v}"
                   for k, v in self.opts.items() if v != self.options[k].default]
        return ":".join([self.name, *changed])

    def __repr__(self) -> str:
        return f"<strategy {self.spec_string()}>"

    # ---- hooks (no-ops) ----
    def validate(self, config) -> None:
        pass

    def configure_models(self, spec, ctx) -> None:
        pass

    def setup(self, ctx) -> None:
        pass

    def configure_optimizers(self, ctx) -> None:
        pass

    def d_inputs(self, ctx, real: torch.Tensor, fake: torch.Tensor):
        return real, fake

    def d_loss(self, ctx, batch) -> torch.Tensor | None:
        return None

    def g_step(self, ctx, step_fn: Callable[[], Any]):
        return step_fn()

    def g_loss(self, ctx, batch) -> torch.Tensor | None:
        return None

    def after_step(self, ctx) -> None:
        pass

    def eval_generator(self, ctx, G: torch.nn.Module) -> torch.nn.Module:
        return G

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    if not cls.name:
        raise TypeError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def registry() -> dict[str, type[Strategy]]:
    from . import _import_all

    _import_all()  # importing the strategy modules registers them

    return dict(_REGISTRY)


def _split_specs(text: str) -> list[str]:
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
        items = _split_specs(value)
    strategies = [parse_strategy(i) for i in items]
    names = [s.name for s in strategies]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"strategy '{sorted(dup)[0]}' is listed twice")
    return strategies
