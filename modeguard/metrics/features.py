"""Metrics in a feature space: Frechet distance and precision / recall / density / coverage.

ModeGuard's image features come from its own mode classifier (no Inception network can be
downloaded here), so the Frechet distance is reported as ``fd_clf``, never as "FID": the
numbers are not comparable with published FIDs.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

from .prdc import prdc


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a: (n, d) and b: (m, d).

    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)); 0 for identical sets.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two (n, d) feature arrays of equal d, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least 2 samples in each set")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # collapsed samples give singular covariances; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_a @ s_b)
        if not np.isfinite(covmean).all():  # nudge both covariances off singularity
            eps = 1e-6 * np.eye(len(s_a))
            covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)  # numerical noise leaves tiny imaginary parts
    diff = mu_a - mu_b
    fd = float(diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * np.trace(covmean))
    return max(fd, 0.0)


def feature_metrics(real: np.ndarray, fake: np.ndarray, k: int = 5, prefix: str = "fd_clf") -> dict:
    """``{prefix: Frechet distance, precision, recall, density, coverage}`` of two feature sets (n, d)."""
    return {prefix: frechet_distance(real, fake), **prdc(real, fake, k=k)}
