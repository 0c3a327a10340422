"""Advice step of the doctor: what to try next, as flags of ``modeguard train``."""
from __future__ import annotations

from ...config import TrainConfig
from ...strategies import parse_strategies
from ..heal import parse_ladder
from .classify import Classification
from .read import RunRecord, number

__all__ = ["advice", "next_strategy"]


def next_strategy(config: TrainConfig) -> str | None:
    """The ``--strategy`` value that adds the first rung of the default heal ladder the run
    lacks (r1 first where it is missing); None where it has them all."""
    have = {s.name for s in parse_strategies(config.strategies)}
    rungs = [r.text for r in parse_ladder(None)]
    missing = [t for t in rungs if "*" not in t and t != "recipe" and t.split(":")[0] not in have]
    if "r1" not in have:
        missing.insert(0, "r1")
    if not missing:
        return None
    current = ",".join(s.spec_string() for s in parse_strategies(config.strategies))
    return f"{current}{',' if current else ''}{missing[0]}"


def _collapse_advice(config: TrainConfig, healed: bool) -> list[str]:
    out = []
    if config.on_collapse != "heal":
        out.append(f"let ModeGuard heal it: modeguard train --data {config.data} ... --on-collapse heal "
                   "(rolls back to the last healthy checkpoint and adds strategies)")
    elif healed:
        out.append(f"healing did not finish the job: allow more heals (--max-heals {config.max_heals + 2}) "
                   "or a longer ladder (heal_ladder in a --config file)")
    more = next_strategy(config)
    if more is not None:
        out.append(f"or train again with more strategies, e.g. --strategy {more}")
    if not parse_strategies(config.strategies):
        out.append("the plain GAN (--strategy none) collapses easily: the recommended recipe for this data is "
                   "what 'modeguard train' uses without --strategy")
    return out


def advice(record: RunRecord, c: Classification) -> list[str]:
    """What to try, most pressing first: lower learning rates after a divergence, tame an
    overpowering D, heal or add strategies after a collapse, train longer when few samples
    are of high quality, watch the next run live; at least one line."""
    config, diverged = record.config, bool(c.diverged)
    out = []
    if diverged:
        out.append(f"lower the learning rates (e.g. --lr-g {config.lr_g / 2:g} --lr-d {config.lr_d / 2:g}) "
                   "and add a penalty on D: --strategy ...,r1 or spectral-norm")
    if c.overpower:
        out.append("D overpowers G: lower lr_d, or add label-smoothing / instance-noise so D cannot separate "
                   "reals and fakes perfectly")
    if c.collapsed:
        out += _collapse_advice(config, bool(record.heals))
    hq = number(record.final, "hq_pct")
    if hq is not None and hq < 90 and not diverged:
        out.append(f"only {hq:.0f}% of the samples are high quality (within 3 std of a mode): train longer "
                   f"(--steps {2 * config.resolved_steps()}) or lower the learning rates")
    if not record.monitor:
        out.append("watch the next run live: --monitor-every N (or --on-collapse warn|stop|heal)")
    if not out:
        out.append("nothing to fix; 'modeguard report' draws the curves")
    return out
