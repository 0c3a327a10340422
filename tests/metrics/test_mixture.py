"""Mode coverage of Gaussian mixtures (PacGAN / VEEGAN protocol)."""
import math

import numpy as np
import pytest
import torch

from modeguard.data import GaussianMixture, resolve_data
from modeguard.metrics import assign_modes, evaluate_samples, mode_coverage

# P(|x - c| <= 3 std) for a 2-D isotropic Gaussian: the radius is Rayleigh distributed
HQ_2D = 100 * (1 - math.exp(-4.5))


def real_samples(name: str, n: int, seed: int = 0) -> np.ndarray:
    data = resolve_data(name)
    return data.to_data_space(data.sample(n, torch.Generator().manual_seed(seed)))


def coverage_of(name: str, samples) -> dict:
    m = resolve_data(name).modes
    return mode_coverage(samples, m.centers, m.std, m.weights)


def test_ring8_protocol_constants():
    m = resolve_data("ring8").modes
    angles = 2 * np.pi * np.arange(8) / 8
    np.testing.assert_allclose(m.centers, np.stack([np.cos(angles), np.sin(angles)], 1), atol=1e-12)
    assert m.std == 0.01
    np.testing.assert_allclose(m.weights, np.full(8, 1 / 8))


def test_grid25_protocol_constants():
    m = resolve_data("grid25").modes
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(c) for c in m.centers.round(12)} == expected
    assert m.std == 0.05


@pytest.mark.parametrize("name,k", [("ring8", 8), ("grid25", 25)])
def test_real_samples_cover_every_mode(name, k):
    out = coverage_of(name, real_samples(name, 2500))
    assert out["modes"] == k
    assert out["modes_strict"] == k
    assert out["rev_kl"] < 0.02
    assert len(out["counts"]) == k and sum(out["counts"]) == pytest.approx(out["hq_pct"] / 100 * 2500)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_hq_fraction_of_real_data_is_the_rayleigh_probability(name):
    n = 40000
    out = coverage_of(name, real_samples(name, n, seed=1))
    # binomial std of the percentage is ~0.05; allow 5 of them
    assert out["hq_pct"] == pytest.approx(HQ_2D, abs=0.3)


def test_samples_exactly_on_the_centres_are_all_high_quality():
    m = resolve_data("grid25").modes
    out = mode_coverage(np.repeat(m.centers, 4, axis=0), m.centers, m.std)
    assert out["hq_pct"] == 100.0
    assert out["modes"] == 25 and out["modes_strict"] == 0  # 4 each < 20
    assert out["rev_kl"] == pytest.approx(0.0, abs=1e-12)


def test_collapse_onto_one_mode():
    m = resolve_data("ring8").modes
    rng = np.random.default_rng(0)
    collapsed = m.centers[3] + 0.005 * rng.standard_normal((2500, 2))
    out = mode_coverage(collapsed, m.centers, m.std, m.weights)
    assert out["modes"] == 1
    assert out["modes_strict"] == 1
    assert out["counts"][3] == 2500 * out["hq_pct"] / 100
    assert out["rev_kl"] == pytest.approx(math.log(8), rel=1e-12)


def test_collapse_onto_two_modes_gives_log4():
    m = resolve_data("ring8").modes
    pts = np.concatenate([np.repeat(m.centers[[0]], 50, 0), np.repeat(m.centers[[5]], 50, 0)])
    out = mode_coverage(pts, m.centers, m.std)
    assert out["modes"] == 2
    # p = (1/2, 1/2) on two modes, w = 1/8: 2 * 1/2 * log(4)
    assert out["rev_kl"] == pytest.approx(math.log(4), rel=1e-12)


def test_strict_count_needs_20_high_quality_samples():
    m = resolve_data("ring8").modes
    pts = np.concatenate([np.repeat(m.centers[[0]], 20, 0),   # strict
                          np.repeat(m.centers[[1]], 19, 0),   # covered, not strict
                          np.repeat(m.centers[[2]], 1, 0),    # covered, not strict
                          np.full((30, 2), 5.0)])             # far from everything: not HQ, covers nothing
    out = mode_coverage(pts, m.centers, m.std)
    assert out["modes"] == 3
    assert out["modes_strict"] == 1
    assert out["counts"] == [20, 19, 1, 0, 0, 0, 0, 0]
    assert out["hq_pct"] == pytest.approx(100 * 40 / 70)
    assert mode_coverage(pts, m.centers, m.std, strict_min=1)["modes_strict"] == 3


def test_hq_threshold_is_three_std_inclusive():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    std = 0.5
    pts = np.array([[1.5, 0.0], [0.0, -1.4999], [1.5001, 0.0], [8.0, 0.0]])
    nearest, hq = assign_modes(pts, centers, std)
    assert nearest.tolist() == [0, 0, 0, 1]
    assert hq.tolist() == [True, True, False, False]
    # low-quality samples do not count towards modes, however many there are
    out = mode_coverage(np.repeat(pts[2:], 100, 0), centers, std)
    assert out["modes"] == 0 and out["hq_pct"] == 0.0


def test_rev_kl_with_unequal_weights():
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    w = [2.0, 1.0, 1.0]  # normalised to (1/2, 1/4, 1/4)
    pts = np.concatenate([np.repeat(centers[[0]], 5, 0), np.repeat(centers[[1]], 5, 0)])
    out = mode_coverage(pts, centers, 0.01, w)
    # p = (1/2, 1/2, 0): 1/2 log(1/2 / 1/2) + 1/2 log(1/2 / 1/4)
    assert out["rev_kl"] == pytest.approx(0.5 * math.log(2), rel=1e-12)
    assert out["modes"] == 2
    # collapse onto the light mode costs more than onto the heavy one
    light = mode_coverage(np.repeat(centers[[2]], 10, 0), centers, 0.01, w)["rev_kl"]
    heavy = mode_coverage(np.repeat(centers[[0]], 10, 0), centers, 0.01, w)["rev_kl"]
    assert light == pytest.approx(math.log(4)) and heavy == pytest.approx(math.log(2))


def test_samples_matching_unequal_weights_have_near_zero_rev_kl():
    w = np.array([0.6, 0.3, 0.1])
    mix = GaussianMixture([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]], 0.1, w)
    pts = mix.to_data_space(mix.sample(30000, torch.Generator().manual_seed(0)))
    out = mode_coverage(pts, mix.modes.centers, mix.modes.std, mix.modes.weights)
    assert out["rev_kl"] < 1e-3
    counts = np.array(out["counts"])
    np.testing.assert_allclose(counts / counts.sum(), w, atol=0.01)
    # with uniform weights assumed instead, the same samples are far from the target
    assert mode_coverage(pts, mix.modes.centers, mix.modes.std)["rev_kl"] > 0.1


def test_rev_kl_is_inf_without_high_quality_samples():
    m = resolve_data("ring8").modes
    out = mode_coverage(np.zeros((100, 2)), m.centers, m.std)  # the ring's centre: 1.0 from every mode
    assert out["rev_kl"] == math.inf
    assert out["modes"] == 0 and out["hq_pct"] == 0.0


def test_empty_sample_set():
    m = resolve_data("ring8").modes
    out = mode_coverage(np.zeros((0, 2)), m.centers, m.std)
    assert out["modes"] == 0 and out["rev_kl"] == math.inf and out["hq_pct"] == 0.0


def test_higher_dimensional_mixture():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=5, size=(6, 5))
    pts = np.repeat(centers, 30, 0) + 0.01 * rng.standard_normal((180, 5))
    out = mode_coverage(pts, centers, 0.1)
    assert out["modes"] == 6 and out["modes_strict"] == 6 and out["hq_pct"] == 100.0


def test_shape_mismatch_is_an_error():
    m = resolve_data("ring8").modes
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        mode_coverage(np.zeros((10, 3)), m.centers, m.std)
    with pytest.raises(ValueError):
        mode_coverage(np.zeros(10), m.centers, m.std)


def test_evaluate_samples_reports_modes_and_prdc():
    data = resolve_data("ring8")
    out = evaluate_samples(data, real_samples("ring8", 1000, seed=3))
    assert out["n"] == 1000 and out["modes"] == 8
    assert {"modes", "modes_strict", "hq_pct", "rev_kl", "precision", "recall", "density", "coverage"} <= set(out)
    assert out["precision"] > 0.9 and out["recall"] > 0.9
    assert "precision" not in evaluate_samples(data, real_samples("ring8", 100), prdc=False)
