import math

import numpy as np
import pytest

from modeguard.metrics.features import feature_metrics, frechet_distance
from modeguard.metrics.stacked import channel_balance, label_histogram_metrics, stacked_mode_metrics


def _all_triples(repeat=1):
    triples = np.stack(np.unravel_index(np.arange(1000), (10, 10, 10)), axis=1)
    return np.tile(triples, (repeat, 1))


def test_perfect_generator_covers_1000_modes_with_zero_kl():
    out = stacked_mode_metrics(_all_triples(26))
    assert out["modes"] == 1000 and out["num_modes"] == 1000
    assert out["kl"] == pytest.approx(0.0, abs=1e-12)


def test_collapsed_generator_has_one_mode_and_kl_log_1000():
    out = stacked_mode_metrics(np.tile([[3, 1, 4]], (26000, 1)))
    assert out["modes"] == 1
    assert out["kl"] == pytest.approx(math.log(1000))


def test_partial_coverage():
    labels = _all_triples()[:100]  # 100 modes, equally often
    out = stacked_mode_metrics(np.tile(labels, (5, 1)))
    assert out["modes"] == 100 and out["kl"] == pytest.approx(math.log(10))


def test_random_uniform_labels_have_small_kl():
    labels = np.random.default_rng(0).integers(0, 10, size=(26000, 3))
    out = stacked_mode_metrics(labels)
    assert out["modes"] >= 995  # 26 per mode on average: missing one is very unlikely
    assert 0 < out["kl"] < 0.05


def test_label_order_matters():
    a = stacked_mode_metrics(np.array([[1, 2, 3], [3, 2, 1]]))
    assert a["modes"] == 2 and a["kl"] == pytest.approx(math.log(500))


def test_histogram_kl_against_given_weights():
    out = label_histogram_metrics(np.array([0, 0, 1, 1]), 2, weights=np.array([1.0, 3.0]))
    assert out["modes"] == 2
    assert out["kl"] == pytest.approx(0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(5), np.array([[0, 0, 10]]), np.array([[-1, 0, 0]])])
def test_rejects_bad_labels(bad):
    with pytest.raises(ValueError):
        stacked_mode_metrics(bad)


def test_channel_balance_is_the_kl_of_independent_channels():
    rng = np.random.default_rng(0)
    skewed = np.array([0.2] + [0.8 / 9] * 9)  # one digit drawn twice too often in channel 0
    labels = np.stack([rng.choice(10, 200_000, p=skewed), rng.integers(0, 10, 200_000), rng.integers(0, 10, 200_000)], 1)
    out = channel_balance(labels)
    expected = float((skewed * np.log(skewed * 10)).sum())
    assert out["shares"].shape == (3, 10)
    np.testing.assert_allclose(out["shares"][0], skewed, atol=0.005)
    assert out["kl_channels"] == pytest.approx(expected, abs=0.002)
    # independent channels: the joint KL is this sum plus the floor (999 / (2 n))
    assert stacked_mode_metrics(labels)["kl"] == pytest.approx(expected + 999 / 400_000, abs=0.002)


def test_channel_balance_of_even_channels_is_zero():
    labels = np.stack([np.arange(1000) % 10, (np.arange(1000) // 10) % 10], 1)
    out = channel_balance(labels)
    assert out["kl_channels"] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(out["shares"], 0.1)


def test_frechet_distance_of_identical_sets_is_zero():
    a = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_known_values():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4000, 4))
    # shifting the mean by d adds ||d||^2
    assert frechet_distance(a, a + np.array([1.0, 2.0, 0.0, 0.0])) == pytest.approx(5.0, rel=1e-6)
    # scaling by s: S_b = s^2 S_a, so the trace term is (1 - s)^2 tr(S_a); means differ by (s - 1) mu
    expected = 4 * np.trace(np.cov(a, rowvar=False)) + 4 * np.sum(a.mean(0) ** 2)
    assert frechet_distance(a, 3 * a) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_with_a_collapsed_set_is_finite():
    a = np.random.default_rng(2).normal(size=(300, 8))
    collapsed = np.ones((300, 8))
    fd = frechet_distance(a, collapsed)
    assert np.isfinite(fd) and fd == pytest.approx(frechet_distance(a, collapsed + 1e-9), rel=1e-3)
    assert fd > 8  # mean offset ~8 plus the real set's variance ~8


def test_feature_metrics_keys_and_identity():
    a = np.random.default_rng(3).normal(size=(200, 8))
    out = feature_metrics(a, a)
    assert set(out) == {"fd_clf", "precision", "recall", "density", "coverage"}
    assert out["fd_clf"] == pytest.approx(0.0, abs=1e-6)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
