"""Anti-collapse strategies, one module each, registered by name.

This is the one place that imports every strategy module (each registers its class with
``@register`` on import), so :func:`registry` is complete as soon as the package is
imported. Adding a strategy = one file with a ``@register`` class + one line below.
"""
from __future__ import annotations

from .base import Option, Strategy, parse_strategies, parse_strategy, register, registry
from .needs import Need

# every strategy module, imported for its registration
from . import (adam, adaptive_lr, batchnorm, ema, feature_matching, freeze_d, gp,  # noqa: E402,F401
               instance_noise, label_smoothing, lr_schedule, minibatch_disc, minibatch_stddev, multi_d, multi_g,
               pacgan, r1, rmsprop, sgd, spectral_norm, ttur, unrolled, warm_start)
from . import ada, consistency, diffaugment, jacobian_truncation, lecam  # noqa: E402,F401

__all__ = ["Need", "Option", "Strategy", "parse_strategies", "parse_strategy", "register",
           "registry"]
