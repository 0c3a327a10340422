"""The mode classifier (trained once per test session on digits: ~10-20 s) and the image evaluator."""
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from modeguard.data import ImageSet, resolve_data
from modeguard.data.images import FASHION_MNIST_DIR
from modeguard.metrics import classifier as clf_mod
from modeguard.metrics import evaluate_samples
from modeguard.metrics.classifier import cache_dir, cache_path, mode_classifier


@pytest.fixture(scope="module")
def digits_clf():
    return mode_classifier(resolve_data("digits"))


def test_digits_classifier_reaches_97_percent(digits_clf):
    assert digits_clf.accuracy >= 0.97
    d = resolve_data("digits")
    measured = (digits_clf.predict(d.test_images.astype(np.float32) / 255) == d.test_labels).mean()
    assert measured == pytest.approx(digits_clf.accuracy)
    # uint8 input is read as pixels in [0, 255]
    assert np.array_equal(digits_clf.predict(d.test_images), digits_clf.predict(d.test_images / 255.0))


def test_confidence_is_high_on_digits_and_low_on_noise(digits_clf):
    d = resolve_data("digits")
    sure = digits_clf.confidence(d.test_images)
    noise = digits_clf.confidence(np.random.default_rng(0).uniform(0, 1, (500, *d.test_images.shape[1:])).astype(np.float32))
    assert sure.shape == (len(d.test_images),) and ((sure > 0) & (sure <= 1)).all()
    assert (sure >= 0.9).mean() > 0.9  # real digits are read with confidence
    assert np.median(noise) < np.median(sure)


def test_cache_file_is_named_by_checksum_and_reloads_without_training(digits_clf, monkeypatch):
    d = resolve_data("digits")
    path = cache_path(d)
    assert path.parent == cache_dir() and path.is_file() and d.checksum()[:16] in path.name
    assert not list(path.parent.glob("*.tmp"))
    monkeypatch.setattr(clf_mod, "_MEMO", {})
    monkeypatch.setattr(clf_mod, "train_classifier", lambda *a, **k: pytest.fail("retrained despite the cache"))
    again = mode_classifier(d)
    assert again is not digits_clf and again.accuracy == digits_clf.accuracy
    x = d.test_images[:50]
    assert np.array_equal(again.predict(x), digits_clf.predict(x))
    assert np.allclose(again.features(x), digits_clf.features(x), atol=1e-5)


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MODEGUARD_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("MODEGUARD_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "modeguard"


def test_corrupt_or_foreign_cache_files_are_misses(digits_clf, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00garbage")
    assert clf_mod.load_cached(bad, (1, 8, 8)) is None
    good = cache_path(resolve_data("digits"))
    assert clf_mod.load_cached(good, (1, 8, 8)) is not None
    assert clf_mod.load_cached(good, (1, 28, 28)) is None  # weights for another image size


def test_training_writes_the_cache_atomically(tmp_path):
    # a tiny 4-class set of bright / dark quadrants: learnable in the minimum steps
    rng = np.random.default_rng(0)

    def make(n):
        y = rng.integers(0, 4, n)
        x = rng.integers(0, 40, (n, 1, 8, 8)).astype(np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 2)
            x[i, 0, 4 * r:4 * r + 4, 4 * q:4 * q + 4] = 255
        return x, y

    (tx, ty), (vx, vy) = make(200), make(50)
    data = ImageSet("quadrants", tx, ty, vx, vy)
    logs = []
    clf = mode_classifier(data, cache=tmp_path, log=logs.append)
    assert clf.accuracy == 1.0 and clf.num_classes == 4
    assert any("test accuracy" in m for m in logs)
    assert [p.name for p in tmp_path.iterdir()] == [cache_path(data, tmp_path).name]


def test_unlabelled_sets_have_no_classifier():
    data = ImageSet("u", np.zeros((4, 1, 8, 8), np.uint8), None, np.zeros((2, 1, 8, 8), np.uint8), None)
    from modeguard.errors import DataError

    with pytest.raises(DataError, match="labelled"):
        mode_classifier(data)


# ---------------------------------------------------------------- the image evaluator
def test_real_stacked_samples_cover_the_modes(digits_clf):
    d = resolve_data("stacked-digits")
    real = d.to_data_space(d.sample(5000, torch.Generator().manual_seed(0)))
    out = evaluate_samples(d, real)
    # 5,000 uniform draws hit 1000 * (1 - e^-5) ~ 993 triples on average
    assert out["modes"] >= 960 and out["kl"] < 0.3 and out["num_modes"] == 1000
    assert out["classifier_acc"] == digits_clf.accuracy
    assert out["precision"] > 0.9 and out["recall"] > 0.9 and out["coverage"] > 0.9
    noise = np.random.default_rng(0).random((5000, 3, 8, 8), dtype=np.float32)
    bad = evaluate_samples(d, noise)
    # fd_clf has a finite-sample bias in 384 dimensions (~10-20 at 5,000 real samples)
    assert out["fd_clf"] < 40 and bad["fd_clf"] > 10 * out["fd_clf"]
    assert bad["recall"] < 0.05 and bad["modes"] < out["modes"]


def test_collapsed_stacked_samples(digits_clf):
    d = resolve_data("stacked-digits")
    one = d.to_data_space(d.sample(1, torch.Generator().manual_seed(0)))
    out = evaluate_samples(d, np.repeat(one, 2000, axis=0))
    assert out["modes"] == 1 and out["kl"] == pytest.approx(math.log(1000))
    assert out["fd_clf"] > 50 and out["recall"] < 0.05


def test_plain_labelled_set_counts_classes(digits_clf):
    d = resolve_data("digits")
    out = evaluate_samples(d, d.test_images.astype(np.float32) / 255)
    assert out["modes"] == 10 and out["num_modes"] == 10 and out["kl"] < 0.01
    assert {"fd_clf", "precision", "recall", "density", "coverage", "classifier_acc"} <= set(out)


def test_unlabelled_images_get_pixel_prdc_only():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (60, 1, 8, 8), dtype=np.uint8)
    data = ImageSet("u", pixels[:50], None, pixels[50:], None)
    out = evaluate_samples(data, pixels[:40].astype(np.float32) / 255)
    assert set(out) == {"n", "precision", "recall", "density", "coverage"}


@pytest.mark.skipif(not Path(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist is not installed")
@pytest.mark.skipif(not os.environ.get("MODEGUARD_SLOW_TESTS"),
                    reason="trains the Fashion-MNIST classifier (1-2 min); set MODEGUARD_SLOW_TESTS=1")
def test_fashion_mnist_classifier_reaches_90_percent():
    assert mode_classifier(resolve_data("fashion-mnist")).accuracy >= 0.90
