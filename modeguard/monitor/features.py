"""The feature space the monitor measures in, per data kind (pluggable).

A :class:`FeatureSpace` turns data-space samples into features (and, where the data has
known modes, a mode label per sample) and says what the modes are. Point data is
measured on its raw values against the mixture's centres; images on the mode
classifier's features and labels when the set is labelled, else on a label-free space
(:data:`UNLABELLED_IMAGE_SPACE`, chosen by ``benchmarks/unlabelled.py``; raw pixels
today) among :data:`LABEL_FREE_SPACES`: seeded random convolution features, a small
encoder trained self-supervised on the real images (cached by the data's checksum), or
raw pixels. None needs labels or downloaded weights; pick another with e.g.
``MonitorCallback(feature_space=random_conv_space)``.

A pretrained encoder (Inception, DINOv2, ... from a package of your choice, for users
with internet) plugs in as a builder: ``lambda data: FeatureSpace("dinov2", lambda x:
(my_encode(x), None))``.

Register another space for a data kind with ``FEATURE_SPACES[kind] = builder`` where
``builder(data) -> FeatureSpace``; or hand a builder to
:class:`~modeguard.monitor.callback.MonitorCallback` (``feature_space=``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..metrics.classifier import mode_classifier
from .encoders import random_conv_encoder, trained_encoder


@dataclass
class FeatureSpace:
    """``featurize(samples)`` maps data-space samples (n, ...) to ``(features (n, F), mode
    labels (n,) or None)``. ``centers`` / ``std`` (mixtures, in feature space) or
    ``num_modes`` / ``weights`` (labelled modes) describe the modes, when known."""

    name: str
    featurize: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    centers: np.ndarray | None = None
    std: float | None = None
    num_modes: int | None = None
    weights: np.ndarray | None = None
    #: how to name mode i to a person (e.g. its centre, or its label triple)
    mode_name: Callable[[int], str] | None = None

    def monitor_kwargs(self) -> dict:
        """The mode arguments of :class:`~modeguard.monitor.monitor.CollapseMonitor`."""
        if self.centers is not None:
            return {"centers": self.centers, "std": self.std, "weights": self.weights}
        if self.num_modes is not None:
            return {"num_modes": self.num_modes, "weights": self.weights}
        return {}


def _flat(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(len(x), -1)


def point_space(data) -> FeatureSpace:
    """Raw values; the mixture's centres where known."""
    m = data.modes
    if m is None:
        return FeatureSpace("data values", lambda x: (_flat(x), None))

    def name(i: int) -> str:
        c = m.centers[i]
        return f"mode {i} at ({', '.join(f'{v:.2f}' for v in c[:3])}{', ...' if len(c) > 3 else ''})"

    return FeatureSpace("data values", lambda x: (_flat(x), None), centers=m.centers, std=m.std,
                        weights=m.weights, mode_name=name)


def pixel_space(data) -> FeatureSpace:
    """Raw pixels, flattened to (n, C*H*W) float32; no modes known."""
    return FeatureSpace("raw pixels", lambda x: (_flat(x).astype(np.float32), None))


def random_conv_space(data, seed: int = 0) -> FeatureSpace:
    """Features of a fixed, seeded random conv net, standardised on the data's real images; no modes known."""
    enc = random_conv_encoder(data, seed=seed)
    return FeatureSpace("random conv", lambda x: (enc.encode(x), None))


def encoder_space(data, seed: int = 0) -> FeatureSpace:
    """Features of a small encoder trained self-supervised on the data's real images (once,
    then cached by the data's checksum); no modes known."""
    enc = trained_encoder(data, seed=seed)
    return FeatureSpace("trained encoder", lambda x: (enc.encode(x), None))


#: the label-free spaces for images, by name (what ``benchmarks/unlabelled.py`` compares)
LABEL_FREE_SPACES: dict[str, Callable] = {"random conv": random_conv_space, "trained encoder": encoder_space,
                                          "raw pixels": pixel_space}
#: the default for images without labels: on stacked digits with the labels withheld
#: (``benchmarks/unlabelled.py``, results/unlabelled.md) every candidate flags the same
#: collapses without false alarms, raw pixels with the widest coverage margin, at a tenth of
#: the per-check cost and no start-up; the others stay a ``feature_space=`` builder away
UNLABELLED_IMAGE_SPACE = "raw pixels"


def classifier_space(data) -> FeatureSpace | None:
    """The mode classifier's penultimate features and its labels (per channel for stacked
    sets, whose mode is the label triple); None when the set has no labels."""
    stacked = bool(getattr(data, "stacked", False))
    base = data.base if stacked else data
    if not getattr(base, "labelled", False):
        return None
    clf = mode_classifier(base)
    classes = int(base.num_classes)
    if stacked:
        channels = int(data.shape[0])

        def featurize(x):
            x = np.asarray(x, dtype=np.float32)
            n = len(x)
            labels, feats = clf.predict_with_features(x.reshape(n * channels, 1, *x.shape[2:]))
            labels = labels.reshape(n, channels)
            return feats.reshape(n, -1), (labels * classes ** np.arange(channels - 1, -1, -1)).sum(1)

        def name(i: int) -> str:
            digits = [(i // classes ** p) % classes for p in range(channels - 1, -1, -1)]
            return "triple " + "-".join(map(str, digits))

        return FeatureSpace("mode classifier", featurize, num_modes=classes ** channels, mode_name=name)

    freq = np.bincount(base.train_labels, minlength=classes).astype(np.float64)

    def featurize_plain(x):
        labels, feats = clf.predict_with_features(np.asarray(x, dtype=np.float32))
        return feats, labels

    return FeatureSpace("mode classifier", featurize_plain, num_modes=classes, weights=freq / freq.sum(),
                        mode_name=lambda i: f"class {i}")


def image_space(data) -> FeatureSpace:
    """The mode classifier's space for a labelled image set, else the label-free default
    (:data:`UNLABELLED_IMAGE_SPACE`)."""
    return classifier_space(data) or LABEL_FREE_SPACES[UNLABELLED_IMAGE_SPACE](data)


#: data kind -> ``builder(data) -> FeatureSpace``
FEATURE_SPACES: dict[str, Callable] = {"points": point_space, "image": image_space}


def feature_space(data) -> FeatureSpace:
    """The registered space for ``data.kind`` (raw values when none is registered)."""
    return FEATURE_SPACES.get(data.kind, point_space)(data)
