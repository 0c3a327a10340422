"""The search file of ``modeguard tune``: what is searched, how long, how trials are judged.

A search is a YAML mapping::

    data: ring8              # data set of every trial
    steps: 3000              # steps of a trial that runs to the end
    trials: 8                # configurations drawn
    search: random           # random | optuna (optuna needs 'pip install optuna')
    seed: 0                  # seed of the search: the same seed draws the same configurations
    report_every: 300        # steps between a trial's reports (ASHA judges trials at these)
    grace_steps: 900         # ASHA: steps before a trial may be stopped for a low score
    reduction_factor: 2      # ASHA: 1 trial in reduction_factor goes on at each rung
    collapse_stop: true      # stop a trial at the collapse monitor's confirmed collapse
    monitor_every: 100       # steps between the monitor's checks (with collapse_stop)
    max_concurrent: 2        # trials at once (default: as many as the cluster's CPUs allow)
    base:                    # fixed config values of every trial (any 'modeguard train' key)
      batch_size: 256
      eval_samples: 1000
    space:                   # what is searched: a config key, 'lr', or STRATEGY.OPTION
      strategies: {choice: ["none", "r1", "r1,ema"]}
      lr: {loguniform: [3.0e-4, 5.0e-3]}      # sets lr_g and lr_d together
      r1.gamma: {loguniform: [0.03, 3.0]}      # used by trials whose strategies hold r1
      ema.beta: {choice: [0.99, 0.999]}

Distributions: ``{choice: [a, b, ...]}``, ``{uniform: [low, high]}``, ``{loguniform: [low,
high]}``, ``{randint: [low, high]}`` (high excluded); a plain value is fixed. Only ``data``
is required. This module needs no Ray: it reads and checks the file and turns one drawn
configuration into a :class:`~modeguard.config.TrainConfig`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config import TrainConfig
from ..data import resolve_data
from ..errors import ConfigError
from ..recipes import default_recipe, is_default_recipe
from ..strategies import parse_strategies, parse_strategy, registry

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
SEARCHERS = ("random", "optuna")
#: config keys a search sets itself (top-level keys of the file), not through base/space
OWN_KEYS = ("data", "steps", "on_collapse", "monitor_every", "progress")
#: config values every trial gets: no figures, no checkpoints mid-run, no console bar
TRIAL_DEFAULTS = {"progress": False, "sample_every": 10**9, "ckpt_every": 10**9}


@dataclass(frozen=True)
class Param:
    """One searched value: ``kind`` in :data:`DISTRIBUTIONS` and its ``args``."""

    kind: str
    args: tuple


@dataclass
class Search:
    """A parsed search file (see the module docstring for each field)."""

    data: str
    steps: int = 3000
    trials: int = 8
    search: str = "random"
    seed: int = 0
    report_every: int | None = None
    grace_steps: int | None = None
    reduction_factor: int = 2
    collapse_stop: bool = True
    monitor_every: int | None = None
    max_concurrent: int | None = None
    base: dict = field(default_factory=dict)
    space: dict = field(default_factory=dict)

    def resolved(self) -> "Search":
        """A copy with the step counts left unset filled in: reports every tenth of a run,
        a grace of three reports, a monitor check every fiftieth of a run."""
        s = dataclasses.replace(self)
        s.report_every = s.report_every or max(1, s.steps // 10)
        s.grace_steps = s.grace_steps or min(s.steps, 3 * s.report_every)
        s.monitor_every = s.monitor_every or max(1, s.steps // 50)
        return s


def load_search(path: str | Path) -> Search:
    """Read and check a search file; raises ConfigError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"search file not found: {path}")
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    return search_from_dict(d)


def search_from_dict(d) -> Search:
    """A :class:`Search` from a mapping like the module docstring's; raises ConfigError."""
    if not isinstance(d, dict) or "data" not in d:
        raise ConfigError("a search file is a mapping with at least 'data: NAME'")
    known = {f.name for f in dataclasses.fields(Search)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown search key '{unknown[0]}'; known: {', '.join(sorted(known))}")
    d = dict(d)
    d["space"] = {str(k): _param(str(k), v) for k, v in (d.get("space") or {}).items()}
    d["base"] = dict(d.get("base") or {})
    search = Search(**d)
    _check(search)
    return search


def _param(key: str, value):
    """A :class:`Param` for a ``{kind: args}`` mapping, or the plain value itself."""
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or next(iter(value)) not in DISTRIBUTIONS:
        raise ConfigError(f"space.{key}: write one of {', '.join(DISTRIBUTIONS)} as '{{kind: [...]}}', "
                          f"got {value!r}")
    kind, args = next(iter(value.items()))
    if not isinstance(args, list) or not args:
        raise ConfigError(f"space.{key}: {kind} takes a list, got {args!r}")
    if kind == "choice":
        return Param(kind, tuple(args))
    try:
        low, high = (float(a) for a in args) if kind != "randint" else (int(a) for a in args)
    except (TypeError, ValueError):
        raise ConfigError(f"space.{key}: {kind} takes [low, high] numbers, got {args!r}") from None
    if not low < high or (kind == "loguniform" and low <= 0):
        raise ConfigError(f"space.{key}: {kind} needs low < high{' and low > 0' if kind == 'loguniform' else ''}, "
                          f"got {args!r}")
    return Param(kind, (low, high))


def _check(search: Search) -> None:
    """Raise ConfigError for a value or key no trial could run with."""
    for name in ("steps", "trials", "reduction_factor"):
        v = getattr(search, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < (2 if name == "reduction_factor" else 1):
            raise ConfigError(f"{name} must be an integer >= {2 if name == 'reduction_factor' else 1}, got {v!r}")
    for name in ("report_every", "grace_steps", "monitor_every", "max_concurrent"):
        v = getattr(search, name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
    if search.search not in SEARCHERS:
        raise ConfigError(f"search must be one of {', '.join(SEARCHERS)}, got {search.search!r}")
    if not isinstance(search.collapse_stop, bool):
        raise ConfigError(f"collapse_stop must be true or false, got {search.collapse_stop!r}")
    config_keys = {f.name for f in dataclasses.fields(TrainConfig)} - set(OWN_KEYS)
    for key in search.base:
        if key not in config_keys:
            raise ConfigError(f"base.{key}: not a config key a search may set")
    strategies = registry()
    for key in search.space:
        name, dot, option = key.partition(".")
        if dot:
            if name not in strategies:
                raise ConfigError(f"space.{key}: unknown strategy '{name}'")
            if option not in strategies[name].options:
                raise ConfigError(f"space.{key}: strategy '{name}' has no option '{option}'")
        elif key != "lr" and key not in config_keys:
            raise ConfigError(f"space.{key}: not a config key, 'lr' or STRATEGY.OPTION")
    resolve_data(search.data)  # an unknown data set fails here, before any trial starts
    for sample in _corner_samples(search):
        trial_config(search, sample)  # e.g. an unknown strategy in a choice fails before any trial


def _corner_samples(search: Search) -> list[dict]:
    """Samples that visit every choice of every ``choice`` parameter once (others at low)."""
    def at(p, i):
        if not isinstance(p, Param):
            return p
        return p.args[min(i, len(p.args) - 1)] if p.kind == "choice" else p.args[0]
    widest = max([len(p.args) for p in search.space.values() if isinstance(p, Param) and p.kind == "choice"] or [1])
    return [{k: at(p, i) for k, p in search.space.items()} for i in range(widest)]


def with_options(strategies, options: dict[str, dict], recipe: list[str]):
    """``strategies`` (a spec string, list or ``"default"``) with ``options[name]`` set on each
    strategy ``name`` it holds, as a list of spec strings. Options of absent strategies are
    ignored. ``recipe``: what ``"default"`` stands for on the searched data."""
    if is_default_recipe(strategies):
        strategies = list(recipe)
    specs = []
    for s in parse_strategies(strategies):
        extra = "".join(f":{k}={v}" for k, v in options.get(s.name, {}).items())
        specs.append(parse_strategy(s.spec_string() + extra).spec_string())  # later options win
    return specs


def trial_config(search: Search, sample: dict, collapse_stop: bool | None = None) -> TrainConfig:
    """The config of the trial that drew ``sample`` (searched key -> value), validated.

    collapse_stop (default: the search's): run the collapse monitor every
    ``monitor_every`` steps and stop at a confirmed collapse (``on_collapse: stop``);
    without it the monitor is off. Raises ConfigError for a value no run accepts.
    """
    search = search.resolved()
    collapse_stop = search.collapse_stop if collapse_stop is None else collapse_stop
    values = {**search.base, **TRIAL_DEFAULTS, "data": search.data, "steps": search.steps}
    options: dict[str, dict] = {}
    for key, value in sample.items():
        name, dot, option = key.partition(".")
        if dot:
            options.setdefault(name, {})[option] = value
        elif key == "lr":
            values["lr_g"] = values["lr_d"] = value
        else:
            values[key] = value
    recipe = default_recipe(search.data, resolve_data(search.data).kind)
    values["strategies"] = with_options(values.get("strategies", "default"), options, recipe)
    values["on_collapse"] = "stop" if collapse_stop else "warn"
    values["monitor_every"] = search.monitor_every if collapse_stop else 0
    config = TrainConfig.from_dict(values)
    config.resolve()  # validates
    return config


def score(metrics: dict) -> float:
    """What a search maximises: modes first, reverse KL breaking ties.

    ``modes - rev_kl / (1 + rev_kl)``: the KL term lies in [0, 1), so one more mode always
    outranks any KL; an infinite or missing KL costs a full 1. Modes, not strict modes: a
    short trial rarely has strict modes yet, and the score must tell trials apart early.
    """
    rev_kl = metrics.get("rev_kl")
    modes = metrics.get("modes", 0) or 0
    if rev_kl is None or not math.isfinite(rev_kl):
        return float(modes) - 1.0
    return float(modes) - rev_kl / (1.0 + rev_kl)
