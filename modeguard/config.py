"""The run configuration: one flat dataclass, validated, round-tripped through YAML."""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from .atomic import atomic_write_bytes
from .errors import ConfigError, write_failure
from .recipes import (DATA_DEFAULTS, DEFAULT_BATCH, DEFAULT_KEYWORD, DEFAULT_LR, DEFAULT_MODEL,  # noqa: F401
                      DEFAULT_RECIPE, DEFAULT_RECIPES, DEFAULT_STEPS, GENERIC_STEPS, KIND_STEPS, all_default_recipes,
                      default_recipe, is_default_recipe)
from .strategies import parse_strategies


@dataclass
class TrainConfig:
    """Every setting of a run, flat: what ``config.yaml`` holds and ``modeguard train`` flags set.

    ``None`` values are filled in by :meth:`resolve` (step-dependent cadences) and
    :meth:`for_kind` (the data kind's recipe and learning rates). :meth:`validate` raises
    :class:`ConfigError` (one line) for any value of the wrong type or range.
    """

    data: str = "ring8"
    #: None: the data kind's model (recipes.DEFAULT_MODEL: mlp for points, dcgan for images)
    model: str | None = None
    model_options: dict = field(default_factory=dict)
    loss: str = "ns"
    strategies: Any = DEFAULT_KEYWORD
    steps: int | None = None
    #: None: the data kind's batch size (recipes.DEFAULT_BATCH: 256 for points, 64 for images)
    batch_size: int | None = None
    lr_g: float | None = None
    lr_d: float | None = None
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    seed: int = 0
    #: train on this many training samples drawn with ``seed`` (None: all; see modeguard.data.limit)
    data_limit: int | None = None
    device: str = "auto"
    amp: bool = False
    #: compile G and D with torch.compile (refused with strategies that need a double backward)
    compile: bool = False
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
    #: processes the run trains on (set from torchrun's WORLD_SIZE; batch_size is the global batch)
    world_size: int = 1
    #: worker processes that decode an image folder and feed real batches (0: the training
    #: process draws them; see modeguard.data.loader for the order with workers)
    loader_workers: int = 0
    #: what each resume changed: ``{"step": N, "changed": {name: [before, after]}}``, oldest first
    history: list = field(default_factory=list)

    # ---- derived values ----
    def resolved_steps(self, kind: str | None = None) -> int:
        """``steps``, or where it is unset the data set's default step count, else its kind's
        (``kind``: the data's, where known)."""
        if self.steps is not None:
            _check_int("steps", self.steps, low=1)
            return self.steps
        return DEFAULT_STEPS.get(self.data, KIND_STEPS.get(kind, GENERIC_STEPS))

    def resolve(self, kind: str | None = None) -> "TrainConfig":
        """A copy with every ``None`` default filled in, as written to ``config.yaml`` (the
        step count by the data's ``kind`` where given)."""
        if not isinstance(self.data, str) or not self.data.strip():  # before it is used as a key
            raise ConfigError(f"data must be a name or a path (a string), got {self.data!r}")
        c = dataclasses.replace(self)
        c.steps = self.resolved_steps(kind)
        if c.sample_every is None:
            c.sample_every = max(1, c.steps // 5)
        if c.ckpt_every is None:
            c.ckpt_every = max(1, c.steps // 10)
        if c.monitor_every == 0 and c.on_collapse in ("stop", "heal"):  # acting on collapse needs the monitor
            c.monitor_every = max(1, c.steps // 50)
        c.validate()
        return c

    def for_kind(self, kind: str) -> "TrainConfig":
        """A copy with the defaults that depend on the data's kind (and named set) filled in:
        the recipe (where ``strategies`` is ``"default"``), the model, batch size and learning
        rates left unset (:mod:`modeguard.recipes`)."""
        c = dataclasses.replace(self)
        named = DATA_DEFAULTS.get(c.data, {})
        if is_default_recipe(c.strategies):
            c.strategies = default_recipe(c.data, kind)
        if c.model is None:
            c.model = named.get("model", DEFAULT_MODEL[kind])
            if not c.model_options:
                c.model_options = dict(named.get("model_options", {}))
        if c.batch_size is None:
            c.batch_size = named.get("batch_size", DEFAULT_BATCH[kind])
        for name in ("lr_g", "lr_d"):
            if getattr(c, name) is None:
                setattr(c, name, named.get("lr", DEFAULT_LR[kind]))
        c.validate()
        return c

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting of the wrong type or range,
        a NaN/inf anywhere, or a resource the machine cannot give (threads)."""
        positive_int = ("batch_size", "n_critic", "threads", "log_every", "keep_checkpoints", "eval_samples",
                        "max_heals", "world_size")
        for name in positive_int:
            if name == "batch_size" and self.batch_size is None:  # filled in by for_kind
                continue
            _check_int(name, getattr(self, name), low=1 if name != "max_heals" else 0)
        for name in ("steps", "sample_every", "ckpt_every", "data_limit"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), low=1)
        _check_int("monitor_every", self.monitor_every, low=0)
        _check_int("loader_workers", self.loader_workers, low=0)
        _check_int("eval_samples", self.eval_samples, low=10)  # PRDC needs more than k=5 neighbours
        for name in ("model", "loss"):
            if name == "model" and self.model is None:  # filled in by for_kind
                continue
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a name, got {getattr(self, name)!r}")
        for name in ("amp", "compile", "progress", "tensorboard"):
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
        self._validate_input_and_resources()

    def _validate_input_and_resources(self) -> None:
        """The checks that stop what training would die of: a non-string data name, a seed
        the RNGs cannot take, NaN/inf anywhere, more threads than the machine can run."""
        if not isinstance(self.data, str) or not self.data.strip():
            raise ConfigError(f"data must be a name or a path (a string), got {self.data!r}")
        if self.seed > MAX_SEED:
            raise ConfigError(f"seed must be an integer in [0, {MAX_SEED}], got {self.seed!r}")
        limit = max_threads()
        if self.threads > limit:
            raise ConfigError(f"threads must be at most {limit} (4 x this machine's {os.cpu_count() or 1} CPUs), "
                              f"got {self.threads}")
        if self.loader_workers > limit:
            raise ConfigError(f"loader_workers must be at most {limit} (4 x this machine's {os.cpu_count() or 1} "
                              f"CPUs), got {self.loader_workers}")
        for name, value in dataclasses.asdict(self).items():
            where = _first_non_finite(value)
            if where is not None:
                raise ConfigError(f"{name}{where} must be a finite number, not NaN or inf")
        if not isinstance(self.history, list) or not all(isinstance(h, dict) for h in self.history):
            raise ConfigError("history must be a list of mappings (what each resume changed)")

    # ---- YAML ----
    def to_dict(self) -> dict:
        """The config as plain data (what ``config.yaml`` holds); ``history`` only where a
        resume changed something."""
        d = dataclasses.asdict(self)
        d["strategies"] = _strategies_as_data(self.strategies)
        if not d["history"]:
            del d["history"]
        return d

    def save(self, path: Path) -> None:
        """Write the config to ``path`` as YAML, atomically (a crash keeps the old file).
        Raises ``RunWriteError`` / ``OutputPathError`` (one line) where it cannot be written."""
        text = yaml.safe_dump(self.to_dict(), sort_keys=False).encode()
        try:
            atomic_write_bytes(Path(path), lambda f: f.write(text))
        except OSError as e:
            raise write_failure("config", path, e) from None

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from a mapping (parsed YAML); :class:`ConfigError` for an unknown key or
        a non-mapping. Values are checked later, by :meth:`validate`."""
        if not isinstance(d, dict):
            raise ConfigError("a config must be a mapping of option: value")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown config key {sorted(map(str, unknown))[0]!r}")
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
        """The config in the YAML file ``path``; :class:`ConfigError` (one line) where it is
        missing, unreadable, not text or not valid YAML."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            d = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a YAML file (it is not UTF-8 text)") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
        except RecursionError:
            raise ConfigError(f"{path}: nested too deeply") from None
        return cls.from_dict(d)


#: the largest seed every RNG a run seeds accepts (torch's take 64 bits, NumPy's are fed 32)
MAX_SEED = 2**32 - 1
#: threads per CPU beyond which a run only thrashes (and PyTorch may crash)
THREADS_PER_CPU = 4


def max_threads() -> int:
    """The most ``threads`` a config may ask for on this machine."""
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def _first_non_finite(value, where: str = "") -> str | None:
    """The path (``""``, ``.g_hidden[1]``) of the first NaN/inf float inside ``value``, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else where
    if isinstance(value, dict):
        items = ((f".{k}", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for key, v in items:
        found = _first_non_finite(v, where + key)
        if found is not None:
            return found
    return None


def _check_int(name: str, v, low: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")


def _strategies_as_data(value):
    if is_default_recipe(value):
        return DEFAULT_KEYWORD
    if isinstance(value, str) and value.strip().lower() in ("", "none"):
        return []
    return [s.spec_string() for s in parse_strategies(value)]


# ---------------------------------------------------------------- resuming
#: settings that make a run what it is: a resume that changed one would describe a run that never happened
IDENTITY_KEYS = ("data", "model", "model_options", "loss", "strategies", "seed", "batch_size", "lr_g", "lr_d",
                 "beta1", "beta2", "n_critic", "heal_ladder", "max_heals", "data_limit", "loader_workers")
#: settings a resume may change (how long, how often to log / check / save, where it runs)
RESUMABLE_KEYS = ("steps", "device", "amp", "compile", "threads", "log_every", "sample_every", "ckpt_every",
                  "keep_checkpoints", "eval_samples", "progress", "monitor_every", "on_collapse", "tensorboard",
                  "world_size")
#: resumable settings not worth a line in the history (how the terminal looks)
UNRECORDED_KEYS = ("progress",)


def resume_changes(saved: TrainConfig, overrides: dict) -> dict:
    """The settings of ``overrides`` a resume of the run configured as ``saved`` may apply.

    Raises :class:`ConfigError` listing every identity setting (:data:`IDENTITY_KEYS`) whose
    value differs from ``saved`` (the same value is fine), and naming unknown keys. Returns
    ``overrides`` minus those that repeat the saved identity.
    """
    unknown = sorted(k for k in overrides if k not in IDENTITY_KEYS and k not in RESUMABLE_KEYS)
    if unknown:
        raise ConfigError(f"--resume cannot set '{unknown[0]}'")
    differ = [k for k in IDENTITY_KEYS if k in overrides and not _same_setting(k, getattr(saved, k), overrides[k])]
    if differ:
        said = ", ".join(f"{k} ({_shown(getattr(saved, k))} -> {_shown(overrides[k])})" for k in differ)
        raise ConfigError(f"a resume continues the run as it was; these settings differ from the run's: {said}. "
                          f"Start a new run (--out) to change them")
    return {k: v for k, v in overrides.items() if k in RESUMABLE_KEYS}


def history_entry(saved: TrainConfig, changes: dict, step: int) -> dict | None:
    """The ``history`` row of a resume at ``step`` that applied ``changes`` to ``saved``:
    ``{"step": N, "changed": {name: [before, after]}}``; None where nothing recorded changed."""
    changed = {k: [getattr(saved, k), v] for k, v in changes.items()
               if k not in UNRECORDED_KEYS and getattr(saved, k) != v}
    return {"step": int(step), "changed": changed} if changed else None


def _same_setting(name: str, saved, given) -> bool:
    if name == "strategies":
        if is_default_recipe(given):  # the saved run holds the recipe already expanded
            return any(_same_setting(name, saved, r) for r in all_default_recipes())
        return _strategies_as_data(saved) == _strategies_as_data(given)
    if name == "data" and isinstance(saved, str) and isinstance(given, str) and saved != given:
        try:  # the same file named two ways
            return Path(saved).resolve(strict=True) == Path(given).resolve(strict=True)
        except (OSError, RuntimeError):
            return False
    return saved == given


def _shown(value) -> str:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
