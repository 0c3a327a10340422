"""Mode coverage of a Gaussian mixture (PacGAN / VEEGAN protocol)."""
from __future__ import annotations

import numpy as np


def assign_modes(samples: np.ndarray, centers: np.ndarray, std: float, hq_sigmas: float = 3.0):
    """Nearest centre of each sample and whether it is high quality.

    samples: (n, d); centers: (K, d). Returns ``(nearest (n,) int, hq (n,) bool)`` where a
    sample is high quality when its Euclidean distance to the nearest centre is at most
    ``hq_sigmas * std``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != centers.shape[1]:
        raise ValueError(f"samples must be (n, {centers.shape[1]}), got {samples.shape}")
    d2 = ((samples[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(axis=1)
    hq = np.sqrt(d2[np.arange(len(samples)), nearest]) <= hq_sigmas * std
    return nearest, hq


def mode_coverage(samples: np.ndarray, centers: np.ndarray, std: float, weights=None,
                  hq_sigmas: float = 3.0, strict_min: int = 20) -> dict:
    """Mode metrics of ``samples`` (n, d) against a mixture with ``centers`` (K, d).

    Returns a dict:
      - ``modes``: modes with at least one high-quality sample (PacGAN's count)
      - ``modes_strict``: modes with at least ``strict_min`` high-quality samples
      - ``hq_pct``: percentage of samples within ``hq_sigmas`` std of their nearest centre
      - ``rev_kl``: KL(generated mode histogram of HQ samples || true weights); ``inf``
        when no sample is high quality
      - ``counts``: HQ samples per mode (list of K ints)
    """
    centers = np.asarray(centers, dtype=np.float64)
    k = len(centers)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    nearest, hq = assign_modes(samples, centers, std, hq_sigmas)
    counts = np.bincount(nearest[hq], minlength=k)
    total = counts.sum()
    if total == 0:
        rev_kl = float("inf")
    else:
        p = counts / total
        nz = p > 0
        rev_kl = float(np.sum(p[nz] * np.log(p[nz] / w[nz])))
    return {
        "modes": int((counts >= 1).sum()),
        "modes_strict": int((counts >= strict_min).sum()),
        "hq_pct": float(100.0 * hq.mean()) if len(hq) else 0.0,
        "rev_kl": rev_kl,
        "counts": counts.tolist(),
    }
