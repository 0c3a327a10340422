"""Precision / recall / density / coverage (Naeem et al. 2020), chunked."""
import importlib

import numpy as np
import pytest
import torch

from modeguard.data import resolve_data
from modeguard.metrics import prdc

# the package re-exports the function under the module's name
prdc_module = importlib.import_module("modeguard.metrics.prdc")


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    """Naeem et al.'s definitions with full distance matrices (small sets only)."""
    real = np.asarray(real, np.float64)
    fake = np.asarray(fake, np.float64)

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    # k-th nearest *other* point: index 0 of the sorted row is the point itself
    r_radius = np.sort(dist(real, real), axis=1)[:, k]
    f_radius = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(fake, real)  # (M, N)
    in_real_ball = d <= r_radius[None, :]
    return {
        "precision": in_real_ball.any(1).mean(),
        "recall": (d <= f_radius[:, None]).any(0).mean(),
        "density": in_real_ball.sum() / (k * len(fake)),
        "coverage": (d.min(0) <= r_radius).mean(),
    }


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("chunk", [7, 64, 2048])
def test_chunked_equals_unchunked_reference(k, chunk):
    rng = np.random.default_rng(0)
    # each set has a cluster the other lacks: every metric strictly between 0 and 1
    real = np.concatenate([rng.normal(size=(40, 3)), rng.normal(loc=-3.0, scale=0.5, size=(20, 3))])
    fake = np.concatenate([rng.normal(size=(25, 3)), rng.normal(loc=3.0, scale=0.5, size=(20, 3))])
    got = prdc(real, fake, k=k, chunk=chunk)
    want = reference_prdc(real, fake, k)
    assert set(got) == {"precision", "recall", "density", "coverage"}
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-6), key
    # the test is only meaningful if the metrics are not trivially 0 or 1
    assert 0 < want["precision"] < 1 and 0 < want["recall"] < 1 and 0 < want["coverage"] < 1


def test_identical_sets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    out = prdc(x, x.copy(), k=5)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    # each real ball holds its own centre plus its k neighbours: density = (k + 1) / k exactly
    assert out["density"] == pytest.approx(6 / 5, abs=1e-6)


def test_two_draws_of_the_same_distribution():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2))
    out = prdc(real, fake, k=5)
    assert out["density"] == pytest.approx(1.0, abs=0.08)
    assert out["precision"] > 0.95 and out["recall"] > 0.95 and out["coverage"] > 0.9


def test_disjoint_sets():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 2))
    fake = rng.normal(size=(150, 2)) + 100.0
    assert prdc(real, fake, k=5) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_collapsed_fakes_have_precision_but_no_recall():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(500, 2))
    fake = 0.01 * rng.normal(size=(500, 2))  # all on the densest spot of the real data
    out = prdc(real, fake, k=5)
    assert out["precision"] == 1.0
    assert out["recall"] < 0.05 and out["coverage"] < 0.1


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_benchmark_scale_distances_are_exact(name):
    """ring8's 5-NN radii are ~1e-3: float32 |a|^2 + |b|^2 - 2ab distances get them wrong,
    and far from the origin (custom data in its own units) they become meaningless."""
    data = resolve_data(name)
    real, fake = data.reference(800, seed=1), data.reference(800, seed=2)
    want = reference_prdc(real, fake, 5)
    for offset in (0.0, 1000.0):
        got = prdc(real + offset, fake + offset, k=5)
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=1e-6), (offset, key)


def test_high_dimensional_features_match_reference():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(80, 64)) + 50.0
    fake = rng.normal(size=(70, 64)) * 1.1 + 50.3
    got, want = prdc(real, fake, k=4, chunk=16), reference_prdc(real, fake, 4)
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-6), key


def test_rows_are_flattened():
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(40, 2, 3)), rng.normal(size=(30, 2, 3))
    assert prdc(real, fake, k=3) == prdc(real.reshape(40, 6), fake.reshape(30, 6), k=3)


def test_bad_inputs():
    with pytest.raises(ValueError, match="feature sizes differ"):
        prdc(np.zeros((20, 2)), np.zeros((20, 3)))
    with pytest.raises(ValueError, match="more than k"):
        prdc(np.zeros((5, 2)), np.ones((20, 2)), k=5)


def test_20k_by_20k_without_a_full_distance_matrix(monkeypatch):
    """The headline size, computed in distance blocks of at most chunk x N."""
    largest = []
    real_cdist = torch.cdist

    def recording_cdist(a, b, *args, **kwargs):
        largest.append(a.shape[0] * b.shape[0])
        return real_cdist(a, b, *args, **kwargs)

    monkeypatch.setattr(prdc_module.torch, "cdist", recording_cdist)
    rng = np.random.default_rng(5)
    n = 20_000
    real, fake = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    out = prdc(real, fake, k=5)
    assert max(largest) <= 2048 * n < n * n / 8  # ~160 MB blocks, never the 1.6 GB matrix
    assert out["precision"] > 0.99 and out["recall"] > 0.99
    assert out["density"] == pytest.approx(1.0, abs=0.03)
