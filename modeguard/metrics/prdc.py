"""Precision, recall, density and coverage (Naeem et al. 2020), chunked for large sets.

Distances are computed block by block, so 20,000 x 20,000 sets need a few hundred MB,
not the 3 GB a full distance matrix would.
"""
from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    return t.reshape(len(t), -1)


#: up to this many features, distances are computed directly rather than via |a|^2 + |b|^2 - 2ab
DIRECT_MAX_DIM = 16


def pairwise_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(m, d), (n, d) -> (m, n) Euclidean distances.

    The matrix-product form loses the small distances that matter here in float32 (on ring8,
    5-NN radii are ~1e-3) and is not symmetric, so exact ties (a sample equal to a real one)
    fall either side of a radius. For low-dimensional data the direct form is exact and
    about as fast; in high dimensions it is much slower and the distances are large anyway.
    """
    mode = "donot_use_mm_for_euclid_dist" if a.shape[1] <= DIRECT_MAX_DIM else "use_mm_for_euclid_dist"
    return torch.cdist(a, b, compute_mode=mode)


def kth_nn_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance ``(n,)`` from each row of x ``(n, d)`` to its k-th nearest other row, ``chunk`` rows at a time."""
    out = torch.empty(len(x))
    for i in range(0, len(x), chunk):
        d = pairwise_distances(x[i:i + chunk], x)
        # k+1 smallest: the row itself (distance 0) comes first
        out[i:i + chunk] = d.topk(k + 1, dim=1, largest=False).values[:, k]
    return out


def prdc(real, fake, k: int = 5, chunk: int = 2048) -> dict:
    """real: (N, ...) and fake: (M, ...) feature arrays (flattened per row).

    Returns ``{"precision", "recall", "density", "coverage"}`` as floats. Precision and
    density ask how much of ``fake`` lies on the real manifold (k-NN balls around reals);
    recall asks how much of ``real`` lies on the fake manifold; coverage asks how many
    real balls contain at least one fake sample.
    """
    real, fake = _as_tensor(real), _as_tensor(fake)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}")
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"need more than k={k} samples in each set")
    # distances do not change under a shared shift; float32 precision does (data far from 0)
    shift = real.mean(0)
    real, fake = (real - shift).float(), (fake - shift).float()
    r_radius = kth_nn_radius(real, k, chunk)
    f_radius = kth_nn_radius(fake, k, chunk)

    inside_count = torch.zeros(len(fake))  # for each fake: real balls containing it
    nearest_fake = torch.full((len(real),), float("inf"))  # for each real: nearest fake distance
    recall_hit = torch.zeros(len(real), dtype=torch.bool)
    for i in range(0, len(fake), chunk):
        d = pairwise_distances(fake[i:i + chunk], real)  # (m, N)
        inside_count[i:i + chunk] = (d <= r_radius[None, :]).sum(1, dtype=torch.int32).float()  # int32: 2x faster
        nearest_fake = torch.minimum(nearest_fake, d.amin(0))
        recall_hit |= (d <= f_radius[i:i + chunk, None]).any(0)
    return {
        "precision": float((inside_count > 0).float().mean()),
        "recall": float(recall_hit.float().mean()),
        "density": float(inside_count.sum() / (k * len(fake))),
        "coverage": float((nearest_fake <= r_radius).float().mean()),
    }
