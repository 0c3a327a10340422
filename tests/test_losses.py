"""Each adversarial loss against values computed by hand from its textbook formula."""
import math

import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.losses import LOSSES, get_loss

REAL = [2.0, -1.0, 0.5]
FAKE = [-0.5, 1.5, 0.0, -3.0]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def t(xs) -> torch.Tensor:
    # D emits (n, 1) logits; the losses must treat them as a batch of n numbers
    return torch.tensor(xs, dtype=torch.float64).reshape(-1, 1)


def hand_d(name: str, real, fake) -> float:
    if name in ("minimax", "ns"):  # D maximises log D(x) + log(1 - D(G(z)))
        return -mean(math.log(sigmoid(r)) for r in real) - mean(math.log(1 - sigmoid(f)) for f in fake)
    if name == "wgan":
        return mean(fake) - mean(real)
    if name == "hinge":
        return mean(max(0.0, 1 - r) for r in real) + mean(max(0.0, 1 + f) for f in fake)
    if name == "lsgan":
        return 0.5 * mean((r - 1) ** 2 for r in real) + 0.5 * mean(f ** 2 for f in fake)
    raise AssertionError(name)


def hand_g(name: str, fake) -> float:
    if name == "minimax":  # the article's formula: G minimises log(1 - D(G(z)))
        return mean(math.log(1 - sigmoid(f)) for f in fake)
    if name == "ns":  # the article's code: G minimises -log D(G(z))
        return -mean(math.log(sigmoid(f)) for f in fake)
    if name in ("wgan", "hinge"):
        return -mean(fake)
    if name == "lsgan":
        return 0.5 * mean((f - 1) ** 2 for f in fake)
    raise AssertionError(name)


def test_every_loss_is_covered():
    assert set(LOSSES) == {"minimax", "ns", "wgan", "hinge", "lsgan"}


@pytest.mark.parametrize("name", ["minimax", "ns", "wgan", "hinge", "lsgan"])
def test_d_loss_matches_hand_computed(name):
    got = get_loss(name).d(t(REAL), t(FAKE))
    assert got.shape == ()
    assert float(got) == pytest.approx(hand_d(name, REAL, FAKE), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", ["minimax", "ns", "wgan", "hinge", "lsgan"])
def test_g_loss_matches_hand_computed(name):
    got = get_loss(name).g(t(FAKE))
    assert got.shape == ()
    assert float(got) == pytest.approx(hand_g(name, FAKE), rel=1e-12, abs=1e-12)


def test_specific_numbers():
    # a few values written out in full, so a wrong helper above cannot hide a wrong loss
    zero = t([0.0])
    assert float(get_loss("ns").d(zero, zero)) == pytest.approx(2 * math.log(2))
    assert float(get_loss("minimax").g(zero)) == pytest.approx(-math.log(2))
    assert float(get_loss("ns").g(zero)) == pytest.approx(math.log(2))
    assert float(get_loss("hinge").d(t([0.5, 3.0]), t([-2.0, 0.0]))) == pytest.approx((0.5 + 0) / 2 + (0 + 1) / 2)
    assert float(get_loss("lsgan").d(t([1.0, 3.0]), t([2.0]))) == pytest.approx(0.5 * 2.0 + 0.5 * 4.0)
    assert float(get_loss("wgan").d(t([1.0, 3.0]), t([2.0]))) == pytest.approx(0.0)


def test_minimax_saturates_and_ns_does_not():
    # when D confidently rejects fakes (logit -8), minimax's G gradient vanishes; ns's does not
    fake = torch.tensor([-8.0], dtype=torch.float64, requires_grad=True)
    (g_mm,) = torch.autograd.grad(get_loss("minimax").g(fake), fake)
    (g_ns,) = torch.autograd.grad(get_loss("ns").g(fake), fake)
    # d/df log(1 - sigmoid(f)) = -sigmoid(f); d/df -log sigmoid(f) = -(1 - sigmoid(f))
    assert float(g_mm) == pytest.approx(-sigmoid(-8.0), rel=1e-9)
    assert float(g_ns) == pytest.approx(-(1 - sigmoid(-8.0)), rel=1e-9)
    assert abs(float(g_mm)) < 1e-3 < abs(float(g_ns))


@pytest.mark.parametrize("name", ["minimax", "ns"])
def test_probabilistic_losses_stay_finite_for_extreme_logits(name):
    big = torch.tensor([100.0, -100.0], dtype=torch.float32)
    loss = get_loss(name)
    assert torch.isfinite(loss.d(big, big)) and torch.isfinite(loss.g(big))
    # D confidently right: loss ~ 0, not log(0)
    assert float(loss.d(torch.tensor([100.0]), torch.tensor([-100.0]))) == pytest.approx(0.0, abs=1e-6)


def test_probabilistic_flag():
    assert {n for n, l in LOSSES.items() if l.probabilistic} == {"minimax", "ns"}


def test_unknown_loss_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown loss 'bogus'.*ns"):
        get_loss("bogus")
