"""Metrics as pure functions: arrays in, dict out."""
from .evaluate import KIND_EVALUATORS, evaluate_samples
from .mixture import assign_modes, mode_coverage
from .prdc import prdc
from . import images  # noqa: E402,F401  (registers the "image" evaluator)

__all__ = ["KIND_EVALUATORS", "assign_modes", "evaluate_samples", "mode_coverage", "prdc"]
