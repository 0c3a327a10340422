"""Cross-strategy checks for ``validate``: what else a config lists, and with which options."""
from __future__ import annotations

from .base import parse_strategies


def listed(config) -> dict:
    """``{name: strategy}`` for every strategy ``config.strategies`` lists (fresh instances).

    ``validate`` runs before anything is built, so a strategy that cannot work beside
    another (or beside one of its option values) looks here.
    """
    return {s.name: s for s in parse_strategies(config.strategies)}


def d_has_batchnorm(config) -> bool:
    """True when D normalises over the batch (model option or the ``batchnorm`` strategy)."""
    if (config.model_options or {}).get("d_batchnorm"):
        return True
    bn = listed(config).get("batchnorm")
    if bn is None:
        return False
    nets = bn.opts.get("nets", ())
    return "d" in (tuple(nets.split("+")) if isinstance(nets, str) else nets)
