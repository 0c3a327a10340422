"""Mode metrics of stacked sets (Stacked MNIST protocol of VEEGAN / PacGAN).

Each generated sample's mode is the triple of classes the mode classifier assigns to its
three channels; ``modes`` counts the distinct triples and ``kl`` compares the generated
triple histogram with the uniform distribution over all ``classes**3`` triples.
"""
from __future__ import annotations

import numpy as np


def label_histogram_metrics(modes: np.ndarray, num_modes: int, weights: np.ndarray | None = None) -> dict:
    """modes: (n,) int mode of each sample in [0, num_modes); weights: true mode frequencies (default uniform).

    Returns ``{"modes": modes hit, "kl": KL(generated histogram || weights), "num_modes"}``.
    """
    modes = np.asarray(modes, dtype=np.int64)
    w = np.full(num_modes, 1.0 / num_modes) if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    p = np.bincount(modes, minlength=num_modes) / len(modes)
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] / w[nz]))) if np.all(w[nz] > 0) else float("inf")
    return {"modes": int(nz.sum()), "kl": max(kl, 0.0), "num_modes": int(num_modes)}


def stacked_mode_metrics(labels: np.ndarray, num_classes: int = 10) -> dict:
    """labels: (n, channels) int class of each channel of each sample.

    Returns ``{"modes": distinct label tuples, "kl": KL(generated || uniform), "num_modes": classes**channels}``.
    KL is 0 when every mode is equally frequent and ``log(num_modes)`` when all samples share one mode.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.ndim != 2 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty (n, channels) array, got shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    channels = labels.shape[1]
    mode = (labels * num_classes ** np.arange(channels - 1, -1, -1)).sum(1)
    return label_histogram_metrics(mode, num_classes ** channels)


def channel_balance(labels: np.ndarray, num_classes: int = 10) -> dict:
    """How evenly each channel's classes are drawn: labels ``(n, channels)`` as in
    :func:`stacked_mode_metrics`.

    Returns ``{"shares": (channels, classes) class shares per channel, "kl_channels": the sum
    over channels of KL(channel's class shares || uniform)}``. The stacked KL is this sum, plus
    the dependence between channels, plus its finite-sample bias (``(modes - 1) / (2 n)`` on
    average): a KL above the floor with ``kl_channels`` making up the excess says the generator
    draws some digits too often in some channel, not that it couples the channels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    shares = np.stack([np.bincount(col, minlength=num_classes) / len(labels) for col in labels.T])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(shares > 0, shares * np.log(shares * num_classes), 0.0)
    return {"shares": shares, "kl_channels": float(terms.sum())}
