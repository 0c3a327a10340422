"""The evaluation of image runs (data kind ``"image"``; :mod:`.evaluate` dispatches to it).

Labelled sets (digits, MNIST-format, labelled folders) and stacked sets are judged by
ModeGuard's mode classifier (trained and cached on first use):

- ``modes`` / ``kl``: stacked sets: distinct label triples and KL(generated triples ||
  uniform over classes**3); plain labelled sets: classes generated and KL(generated class
  histogram || the train split's class frequencies);
- ``fd_clf``, ``precision``, ``recall``, ``density``, ``coverage``: in the classifier's
  feature space (per-channel features concatenated for stacked sets), on at most
  ``FEATURE_SAMPLES`` samples against as many held-out real ones;
- ``classifier_acc``: the classifier's accuracy on the held-out test split.

Unlabelled folders get PRDC on raw pixels only.
"""
from __future__ import annotations

import numpy as np

from .classifier import mode_classifier
from .features import feature_metrics
from .prdc import prdc as prdc_fn
from .stacked import label_histogram_metrics, stacked_mode_metrics

FEATURE_SAMPLES = 10000


def _classify(clf, images: np.ndarray, stacked: bool) -> tuple[np.ndarray, np.ndarray]:
    """Labels (n,) or (n, C) and features (n, F) or (n, C * F) of images (n, C, H, W)."""
    if not stacked:
        return clf.predict_with_features(images)
    n, c = images.shape[:2]
    labels, feats = clf.predict_with_features(images.reshape(n * c, 1, *images.shape[2:]))
    return labels.reshape(n, c), feats.reshape(n, -1)


def evaluate_images(data, samples: np.ndarray, prdc: bool = True, seed: int = 12345) -> dict:
    """samples: (n, C, H, W) in [0, 1] (data space). Returns the metrics listed in the module doc."""
    samples = np.asarray(samples, dtype=np.float32)
    out: dict = {"n": int(len(samples))}
    stacked = bool(getattr(data, "stacked", False))
    base = data.base if stacked else data
    m = min(len(samples), FEATURE_SAMPLES)
    if not getattr(base, "labelled", False):
        if prdc:
            real = data.reference(m, seed=seed)
            out.update(prdc_fn(real.reshape(len(real), -1), samples[:m].reshape(m, -1), k=5))
        return out
    clf = mode_classifier(base)
    labels, fake_feats = _classify(clf, samples, stacked)
    if stacked:
        out.update(stacked_mode_metrics(labels, data.channel_classes))
    else:
        freq = np.bincount(base.train_labels, minlength=base.num_classes)
        out.update(label_histogram_metrics(labels, base.num_classes, freq))
    if prdc:
        real = data.reference(m, seed=seed)
        _, real_feats = _classify(clf, real, stacked)
        out.update(feature_metrics(real_feats, fake_feats[:m], k=5))
    out["classifier_acc"] = clf.accuracy
    return out

