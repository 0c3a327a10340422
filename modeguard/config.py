"""The run configuration: one flat dataclass, validated, round-tripped through YAML."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .recipes import (DEFAULT_KEYWORD, DEFAULT_LR, DEFAULT_RECIPE, DEFAULT_RECIPES, DEFAULT_STEPS,  # noqa: F401
                      GENERIC_STEPS, is_default_recipe)
from .strategies import parse_strategies


@dataclass
class TrainConfig:
    data: str = "ring8"
    model: str = "mlp"
    model_options: dict = field(default_factory=dict)
    loss: str = "ns"
    strategies: Any = DEFAULT_KEYWORD
    steps: int | None = None
    batch_size: int = 256
    lr_g: float | None = None
    lr_d: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    seed: int = 0
    device: str = "auto"
    amp: bool = False
    threads: int = 1
    log_every: int = 100
    sample_every: int | None = None
    ckpt_every: int | None = None
    keep_checkpoints: int = 3
    eval_samples: int = 2500
    progress: bool = True
    #: collapse monitor: how often it measures (0 = off), and what to do on a confirmed collapse
    monitor_every: int = 0
    on_collapse: str = "warn"
    heal_ladder: Any = None
    max_heals: int = 4
    tensorboard: bool = False

    # ---- derived values ----
    def resolved_steps(self) -> int:
        if self.steps is not None:
            _check_int("steps", self.steps, low=1)
            return self.steps
        return DEFAULT_STEPS.get(self.data, GENERIC_STEPS)

    def resolve(self) -> "TrainConfig":
        """A copy with every ``None`` default filled in, as written to ``config.yaml``."""
        c = dataclasses.replace(self)
        c.steps = self.resolved_steps()
        if c.sample_every is None:
            c.sample_every = max(1, c.steps // 5)
        if c.ckpt_every is None:
            c.ckpt_every = max(1, c.steps // 10)
        if c.monitor_every == 0 and c.on_collapse in ("stop", "heal"):  # acting on collapse needs the monitor
            c.monitor_every = max(1, c.steps // 50)
        c.validate()
        return c

    def for_kind(self, kind: str) -> "TrainConfig":
        """A copy with the defaults that depend on the data's kind filled in: the recipe (where
        ``strategies`` is ``"default"``) and the learning rates left unset."""
        c = dataclasses.replace(self)
        if is_default_recipe(c.strategies):
            c.strategies = list(DEFAULT_RECIPES[kind])
        for name in ("lr_g", "lr_d"):
            if getattr(c, name) is None:
                setattr(c, name, DEFAULT_LR[kind])
        return c

    def validate(self) -> None:
        positive_int = ("batch_size", "n_critic", "threads", "log_every", "keep_checkpoints", "eval_samples",
                        "max_heals")
        for name in positive_int:
            _check_int(name, getattr(self, name), low=1 if name != "max_heals" else 0)
        for name in ("steps", "sample_every", "ckpt_every"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), low=1)
        _check_int("monitor_every", self.monitor_every, low=0)
        _check_int("eval_samples", self.eval_samples, low=10)  # PRDC needs more than k=5 neighbours
        for name in ("model", "loss"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a name, got {getattr(self, name)!r}")
        for name in ("amp", "progress", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.strategies is not None and not isinstance(self.strategies, (str, list, tuple)):
            raise ConfigError(f"strategies must be a comma-separated string or a list, got {self.strategies!r}")
        _check_int("seed", self.seed, low=0)
        for name in ("lr_g", "lr_d"):
            v = getattr(self, name)
            if v is None:  # filled in from DEFAULT_LR once the data's kind is known
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{name} must be a positive number, got {v!r}")
        for name in ("beta1", "beta2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {v!r}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise ConfigError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.on_collapse not in ("warn", "stop", "heal"):
            raise ConfigError(f"on_collapse must be warn, stop or heal, got {self.on_collapse!r}")
        if not isinstance(self.model_options, dict):
            raise ConfigError("model_options must be a mapping")

    # ---- YAML ----
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["strategies"] = _strategies_as_data(self.strategies)
        return d

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        if not isinstance(d, dict):
            raise ConfigError("a config must be a mapping of option: value")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config key '{sorted(unknown)[0]}'")
        d = dict(d)
        for name in ("lr_g", "lr_d", "beta1", "beta2"):
            # YAML reads 1e-4 (no dot) as a string
            if isinstance(d.get(name), str):
                try:
                    d[name] = float(d[name])
                except ValueError:
                    pass  # validate() names the bad value
        return cls(**d)

    @classmethod
    def load(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            d = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(d)


def _check_int(name: str, v, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")


def _strategies_as_data(value):
    if is_default_recipe(value):
        return DEFAULT_KEYWORD
    if isinstance(value, str) and value.strip().lower() in ("", "none"):
        return []
    return [s.spec_string() for s in parse_strategies(value)]
