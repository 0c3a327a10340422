"""The healing ladder's language: rungs that amend a run's config, one heal at a time.

Ladder rungs (strings):

- ``recipe``: add every strategy of the default recipe that the run lacks (with the
  recipe's options)
- ``NAME`` or ``NAME:opt=v...``: add the strategy; if the run has it, set those options
- ``NAME.OPT*F``: multiply a strategy option by F (a strategy not in the run is added
  with its defaults), e.g. ``r1.gamma*10``
- ``FIELD*F``: multiply a config number, FIELD one of :data:`SCALABLE_FIELDS`, e.g. ``lr_g*0.5``

A rung that would change nothing, or that builds an invalid run, is skipped.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...config import TrainConfig
from ...data import resolve_data
from ...errors import ConfigError
from ...recipes import DEFAULT_RECIPES, default_recipe, is_default_recipe
from ...strategies import parse_strategies, parse_strategy, registry
from ...strategies.base import split_specs

#: what ``--on-collapse heal`` tries, in order (rungs naming a strategy that is not
#: installed are left out): first ModeGuard's default recipe (the strategies it lacks;
#: tuned on the mixtures), then a stronger R1 penalty, packing, instance noise annealed
#: over the whole run (added late, it still has noise to give), a slower G.
DEFAULT_LADDER = ("recipe", "r1.gamma*10", "pacgan", "instance-noise:anneal=1", "lr_g*0.5")
#: the rung that brings in every strategy of ModeGuard's default recipe the run lacks
RECIPE_RUNG = "recipe"
#: config numbers a ``FIELD*F`` rung may scale
SCALABLE_FIELDS = {"lr_g": float, "lr_d": float, "n_critic": int, "batch_size": int}


@dataclass(frozen=True)
class Rung:
    """One step of the ladder; ``apply`` returns ``(amended config, what changed)`` or None."""

    text: str

    def apply(self, config: TrainConfig) -> tuple[TrainConfig, str] | None:
        """``(amended config, what changed)``, or None when the rung changes nothing in
        ``config``. Raises :class:`ConfigError` when the amended run would be invalid."""
        text = self.text
        unbuilt = is_default_recipe(config.strategies)  # a config not yet built: spell its recipe out
        kind = resolve_data(config.data).kind if unbuilt or text == RECIPE_RUNG else None
        if unbuilt:
            config = dataclasses.replace(config, strategies=default_recipe(config.data, kind))
        if text == RECIPE_RUNG:
            return self._add_recipe(config, kind)
        if "*" in text:
            target, _, factor_text = text.partition("*")
            factor = _factor(text, factor_text)
            if "." in target:
                return self._scale_option(config, *target.split(".", 1), factor)
            return self._scale_field(config, target, factor)
        return self._set_strategy(config, text)

    def validate(self) -> None:
        """ConfigError when the rung cannot mean anything (unknown name, option or field)."""
        text = self.text
        if text == RECIPE_RUNG:
            return
        if "*" in text:
            target, _, factor_text = text.partition("*")
            _factor(text, factor_text)
            if "." in target:
                name, opt = target.split(".", 1)
                cls = registry().get(name)
                if cls is None:
                    raise ConfigError(f"heal_ladder: unknown strategy '{name}' in '{text}'")
                o = cls.options.get(opt)
                if o is None or o.type not in (int, float):
                    raise ConfigError(f"heal_ladder: '{text}': strategy '{name}' has no numeric option '{opt}'")
            elif target not in SCALABLE_FIELDS:
                raise ConfigError(f"heal_ladder: '{text}': only {', '.join(SCALABLE_FIELDS)} can be scaled")
        else:
            try:
                parse_strategy(text)
            except ConfigError as e:
                raise ConfigError(f"heal_ladder: {e}") from None

    @classmethod
    def _add_recipe(cls, config, kind: str) -> tuple[TrainConfig, str] | None:
        changes = []
        for spec in DEFAULT_RECIPES[kind]:
            applied = cls._set_strategy(config, spec)
            if applied is not None:
                config, what = applied
                changes.append(what)
        return (config, "; ".join(changes)) if changes else None

    @staticmethod
    def _set_strategy(config, text: str) -> tuple[TrainConfig, str] | None:
        wanted = parse_strategy(text)
        explicit = [p.partition("=")[0].strip() for p in text.split(":")[1:]]
        current = parse_strategies(config.strategies)
        for i, s in enumerate(current):
            if s.name == wanted.name:
                merged = {**s.opts, **{k: wanted.opts[k] for k in explicit}}
                if merged == s.opts:
                    return None
                changes = ", ".join(f"{k} {s.opts[k]} -> {v}" for k, v in merged.items() if s.opts[k] != v)
                current[i] = type(s)(**merged)
                return _with_strategies(config, current), f"set {s.name} {changes}"
        return _with_strategies(config, [*current, wanted]), f"added {wanted.spec_string()}"

    @staticmethod
    def _scale_option(config, name: str, opt: str, factor: float) -> tuple[TrainConfig, str] | None:
        current = parse_strategies(config.strategies)
        for i, s in enumerate(current):
            if s.name == name:
                old = s.opts[opt]
                new = type(old)(old * factor) if isinstance(old, int) else old * factor
                if new == old:
                    return None
                current[i] = type(s)(**{**s.opts, opt: new})  # validates the option's range
                return _with_strategies(config, current), f"set {name} {opt} {old:g} -> {new:g}"
        added = parse_strategy(name)
        return _with_strategies(config, [*current, added]), f"added {added.spec_string()}"

    @staticmethod
    def _scale_field(config, field: str, factor: float) -> tuple[TrainConfig, str] | None:
        old = getattr(config, field)
        if old is None:  # unset (learning rates, batch size): the default for the data's kind
            old = getattr(config.for_kind(resolve_data(config.data).kind), field)
        new = max(1, int(round(old * factor))) if SCALABLE_FIELDS[field] is int else old * factor
        if new == old:
            return None
        return dataclasses.replace(config, **{field: new}), f"{field} {old:g} -> {new:g}"


def _factor(text: str, factor_text: str) -> float:
    try:
        factor = float(factor_text)
    except ValueError:
        raise ConfigError(f"heal_ladder: '{text}': the factor after '*' must be a number") from None
    if not factor > 0:
        raise ConfigError(f"heal_ladder: '{text}': the factor must be positive")
    return factor


def _with_strategies(config: TrainConfig, strategies) -> TrainConfig:
    return dataclasses.replace(config, strategies=[s.spec_string() for s in strategies])


def parse_ladder(value) -> list[Rung]:
    """The ladder from a config value: None (the default), a list of rungs, or one string
    of rungs separated by commas (``'instance-noise,r1.gamma*10,lr_g*0.5'``)."""
    if value is None:
        installed = registry()
        return [Rung(t) for t in DEFAULT_LADDER if _rung_strategy(t) is None or _rung_strategy(t) in installed]
    if isinstance(value, str):
        items = split_specs(value)
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"heal_ladder must be a list of rungs or a comma-separated string, got {value!r}")
    rungs = [Rung(t) for t in items if t]
    for r in rungs:
        r.validate()
    return rungs


def _rung_strategy(text: str) -> str | None:
    if text == RECIPE_RUNG:
        return None
    target = text.partition("*")[0]
    if "*" in text and "." not in target:
        return None
    return target.split(".", 1)[0].split(":", 1)[0]
