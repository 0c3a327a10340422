"""The feature space the monitor measures in, per data kind (pluggable).

A :class:`FeatureSpace` turns data-space samples into features (and, where the data has
known modes, a mode label per sample) and says what the modes are. Point data is
measured on its raw values against the mixture's centres; images on the mode
classifier's features and labels when the set is labelled, else on a label-free space
(:data:`UNLABELLED_IMAGE_SPACE`: pixel bins, chosen on real runs by
``benchmarks/monitor.py detect --spaces``) among :data:`LABEL_FREE_SPACES`: seeded random
convolution features, a small encoder trained self-supervised on the real images (cached by
the data's checksum), raw pixels, or either of the first and last *binned*: each image
labelled with its k-means cluster among the real images, pseudo-modes the monitor counts as
it counts known ones. None needs labels or downloaded weights; pick another with e.g.
``MonitorCallback(feature_space=random_conv_space)``.

A pretrained encoder (Inception, DINOv2, ... from a package of your choice, for users
with internet) plugs in as a builder: ``lambda data: FeatureSpace("dinov2", lambda x:
(my_encode(x), None))``.

Register another space for a data kind with ``FEATURE_SPACES[kind] = builder`` where
``builder(data) -> FeatureSpace``; or hand a builder to
:class:`~modeguard.monitor.callback.MonitorCallback` (``feature_space=``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..metrics.classifier import mode_classifier
from .encoders import random_conv_encoder, trained_encoder

#: pseudo-modes of a binned space, and the real training samples its k-means is fitted on
BINS, BIN_FIT_SAMPLES = 100, 5000
#: how a binned space's live-bin count is judged: a generator's images never spread over the
#: bins as evenly as real ones (a healthy stacked-digits run wanders between 91 and 97 of 100),
#: so a fall is 10% of the bins, not 5%, and a run is stuck below 80% of real data's count, not
#: 97% (the gross collapses of real runs keep 8-16 bins; benchmarks/monitor.py detect --spaces)
BIN_MONITOR_OPTIONS = {"modes_tol": 0.1, "ideal_modes_tol": 0.2}


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
    #: further :class:`~modeguard.monitor.monitor.CollapseMonitor` settings this space needs
    monitor_options: dict = field(default_factory=dict)

    def monitor_kwargs(self) -> dict:
        """The mode arguments of :class:`~modeguard.monitor.monitor.CollapseMonitor`, with the
        space's own settings."""
        if self.centers is not None:
            modes = {"centers": self.centers, "std": self.std, "weights": self.weights}
        elif self.num_modes is not None:
            modes = {"num_modes": self.num_modes, "weights": self.weights}
        else:
            modes = {}
        return {**modes, **self.monitor_options}


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


def binned(builder: Callable, bins: int = BINS, fit_samples: int = BIN_FIT_SAMPLES, seed: int = 0) -> Callable:
    """A builder whose space labels each sample with its k-means bin among ``bins`` clusters
    of real training samples (in the features of ``builder``'s space): pseudo-modes for data
    without labels, in the spirit of Richardson & Weiss (2018)'s NDB bins. The monitor then
    counts live bins (each weighted by its share of real data) the way it counts known modes,
    so a generator that keeps a tenth of the data's variety leaves bins empty even when every
    image it draws is sharp and near real ones."""

    def build(data) -> FeatureSpace:
        space = builder(data)
        real = np.asarray(data.to_data_space(data.sample(fit_samples, torch.Generator().manual_seed(seed + 11))))
        feats, _ = space.featurize(real)
        feats = np.asarray(feats, dtype=np.float32)
        distinct = len(np.unique(feats, axis=0))  # a small set is drawn with repeats
        k = int(min(bins, max(2, distinct // 20)))  # at least ~20 distinct real samples a bin
        from sklearn.cluster import KMeans  # lazy: scikit-learn costs ~1 s at start (HEAVY in the import test)

        km = KMeans(k, n_init=1, max_iter=100, random_state=seed).fit(feats)
        share = np.bincount(km.labels_, minlength=k).astype(np.float64)
        centres = km.cluster_centers_.astype(np.float32)
        centre_sq = (centres ** 2).sum(1)

        def featurize(x):
            f, _ = space.featurize(x)
            f = np.asarray(f, dtype=np.float32)
            # nearest centre by |c|^2 - 2 f.c (one matmul; |f|^2 is the same for every centre)
            return f, np.argmin(centre_sq[None, :] - 2.0 * f @ centres.T, axis=1)

        return FeatureSpace(f"{space.name}, {k} bins", featurize, num_modes=k, weights=share / share.sum(),
                            mode_name=lambda i: f"bin {i}", monitor_options=dict(BIN_MONITOR_OPTIONS))

    return build


#: the label-free spaces for images, by name (what ``benchmarks/unlabelled.py`` compares)
LABEL_FREE_SPACES: dict[str, Callable] = {"random conv": random_conv_space, "trained encoder": encoder_space,
                                          "raw pixels": pixel_space, "pixel bins": binned(pixel_space),
                                          "random conv bins": binned(random_conv_space)}
#: the default for images without labels: on real stacked-digits runs with the labels withheld
#: (``benchmarks/monitor.py detect --spaces``) pixel bins flag every collapse the labelled judge
#: sees, earliest, with no false alarm and a few percent of the training time; coverage in the
#: unbinned spaces falls in healthy runs too (false alarms). ``benchmarks/unlabelled.py`` shows
#: their sensitivity on stand-in generators. The others stay a ``feature_space=`` builder away
UNLABELLED_IMAGE_SPACE = "pixel bins"


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
