"""The evaluation a run gets: every metric its data supports, from samples in data space."""
from __future__ import annotations

import numpy as np

from .images import evaluate_images
from .mixture import mode_coverage
from .prdc import prdc as prdc_fn

PRDC_K = 5

#: ``evaluator(data, samples, prdc=, seed=) -> dict`` for data kinds with their own metrics
KIND_EVALUATORS: dict = {"image": evaluate_images}


def evaluate_samples(data, samples: np.ndarray, prdc: bool = True, seed: int = 12345) -> dict:
    """Metrics of ``samples`` (data space) against ``data``.

    Mixtures with known modes get ``modes``, ``modes_strict``, ``hq_pct``, ``rev_kl`` (and
    per-mode ``counts``); every data set gets ``precision``, ``recall``, ``density``,
    ``coverage`` against as many held-out real samples as there are generated ones.
    """
    if data.kind in KIND_EVALUATORS:
        return KIND_EVALUATORS[data.kind](data, samples, prdc=prdc, seed=seed)
    out: dict = {"n": int(len(samples))}
    if data.modes is not None:
        m = data.modes
        out.update(mode_coverage(samples, m.centers, m.std, m.weights))
    if prdc:
        real = data.reference(len(samples), seed=seed)
        if min(len(real), len(samples)) > PRDC_K:  # a tiny point set has no k-NN balls to measure with
            out.update(prdc_fn(real.reshape(len(real), -1), samples.reshape(len(samples), -1), k=PRDC_K))
    return out
