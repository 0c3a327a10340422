"""Metrics as pure functions: arrays in, dict out.

:func:`evaluate_samples` gives a run every metric its data supports: mode coverage of
known mixtures (:mod:`.mixture`), the mode classifier's metrics on images (:mod:`.images`,
:mod:`.stacked`, :mod:`.classifier`) and precision / recall / density / coverage (:mod:`.prdc`).
"""
from .evaluate import KIND_EVALUATORS, evaluate_samples
from .features import feature_metrics, frechet_distance
from .mixture import assign_modes, mode_coverage
from .prdc import kth_nn_radius, pairwise_distances, prdc

__all__ = ["KIND_EVALUATORS", "assign_modes", "evaluate_samples", "feature_metrics", "frechet_distance",
           "kth_nn_radius", "mode_coverage", "pairwise_distances", "prdc"]
