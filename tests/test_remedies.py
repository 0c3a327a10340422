"""modeguard.remedies: each remedy against its formula, with explicit state that round-trips."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modeguard.remedies import (EMA, AdaptiveLRController, add_instance_noise, annealed_sigma, apply_ttur,
                                gradient_penalty, interpolate, label_smoothing_term, r1_penalty,
                                schedule_factor, set_base_lr, set_lr_factor, ttur_adam, wgan_gp_penalty)


def _linear_d(weight):
    d = nn.Linear(len(weight), 1, bias=True)
    with torch.no_grad():
        d.weight.copy_(torch.tensor([weight]))
    return d


# ---- penalties
def test_r1_of_a_linear_d_is_its_squared_weight_norm():
    d = _linear_d([3.0, 4.0])
    penalty = r1_penalty(d, torch.randn(10, 2))
    assert float(penalty.detach()) == pytest.approx(25.0)
    penalty.backward()  # the graph reaches D's weights
    assert torch.allclose(d.weight.grad, torch.tensor([[6.0, 8.0]]))


@pytest.mark.parametrize("center, expected", [(1.0, 16.0), (0.0, 25.0), (5.0, 0.0)])
def test_gradient_penalty_of_a_linear_d(center, expected):
    d = _linear_d([3.0, 4.0])
    assert float(gradient_penalty(d, torch.randn(7, 2), center).detach()) == pytest.approx(expected, abs=1e-4)


def test_interpolate_and_wgan_gp_are_reproducible():
    real, fake = torch.ones(4, 2), torch.zeros(4, 2)
    x = interpolate(real, fake, torch.tensor([0.0, 0.25, 0.5, 1.0]))
    assert torch.allclose(x[:, 0], torch.tensor([0.0, 0.25, 0.5, 1.0]))
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    a = wgan_gp_penalty(d, torch.randn(6, 2), torch.randn(6, 2), torch.Generator().manual_seed(3))
    b = wgan_gp_penalty(d, torch.randn(6, 2), torch.randn(6, 2), torch.Generator().manual_seed(3))
    assert a.dim() == 0 and torch.isfinite(a) and a.requires_grad
    assert not torch.equal(a, b)  # other batches, other penalty: it reads the data


# ---- EMA
def test_ema_follows_the_formula_in_place():
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(g, beta=0.9)
    start = [p.clone() for p in ema.module.parameters()]
    pointers = [p.data_ptr() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    g(torch.randn(8, 3))  # moves the running statistics
    ema.update()
    for e, s, p in zip(ema.module.parameters(), start, g.parameters()):
        assert torch.allclose(e, 0.9 * s + 0.1 * p)
    assert [p.data_ptr() for p in ema.module.parameters()] == pointers  # updated in place
    assert torch.equal(ema.module[1].running_mean, g[1].running_mean)  # buffers copied
    assert not any(p.requires_grad for p in ema.module.parameters()) and not ema.module.training


def test_ema_beta_zero_copies_and_state_round_trips():
    g = nn.Linear(3, 2)
    ema = EMA(g, beta=0.99)
    with torch.no_grad():
        g.weight.mul_(2)
    ema.update(beta=0.0)
    assert torch.equal(ema.module.weight, g.weight)
    other = EMA(nn.Linear(3, 2))
    other.load_state_dict(ema.state_dict())
    assert torch.equal(other.module.weight, g.weight)
    with pytest.raises(ValueError, match="beta"):
        EMA(g, beta=1.5)


# ---- what D sees
def test_instance_noise_adds_the_same_draw_to_both_sides():
    real, fake = torch.zeros(2000, 2), torch.ones(1000, 2)
    r, f = add_instance_noise(real, fake, 0.3, torch.Generator().manual_seed(0))
    r2, f2 = add_instance_noise(real, fake, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(r, r2) and torch.equal(f, f2)
    assert float(r.std()) == pytest.approx(0.3, rel=0.05) and float((f - 1).std()) == pytest.approx(0.3, rel=0.08)
    same_r, same_f = add_instance_noise(real, fake, 0.0)
    assert same_r is real and same_f is fake


def test_annealed_sigma():
    assert annealed_sigma(0, 100, 0.2, 0.5) == pytest.approx(0.2)
    assert annealed_sigma(25, 100, 0.2, 0.5) == pytest.approx(0.1)
    assert annealed_sigma(80, 100, 0.2, 0.5) == 0.0
    assert annealed_sigma(80, 100, 0.2, 0.0) == pytest.approx(0.2)


@pytest.mark.parametrize("t", [0.9, 0.7])
def test_label_smoothing_term_turns_bce_target_1_into_t(t):
    logits = torch.randn(16, 1)
    smoothed = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, t))
    plain = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
    assert float(plain + label_smoothing_term(logits, t)) == pytest.approx(float(smoothed), abs=1e-6)


# ---- learning rates
def test_schedule_factor_shapes():
    assert schedule_factor(0, 100, warmup=10) == pytest.approx(0.1)
    assert schedule_factor(10, 100, warmup=10, kind="cosine", final=0.1) == pytest.approx(1.0)
    assert schedule_factor(100, 100, warmup=10, kind="cosine", final=0.1) == pytest.approx(0.1)
    assert schedule_factor(55, 100, warmup=10, kind="linear", final=0.0) == pytest.approx(0.5)
    assert schedule_factor(30, 100, kind="step", step_every=10, step_gamma=0.5, final=0.2) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="unknown schedule kind"):
        schedule_factor(0, 10, kind="exp")


def test_factors_multiply_and_the_base_keeps_them():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    set_lr_factor(opt, "schedule", 0.5)
    set_lr_factor(opt, "adaptive", 0.4)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 * 0.4)
    set_base_lr(opt, 1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.2)


def test_ttur():
    g, d = nn.Linear(2, 2), nn.Linear(2, 1)
    opt_g, opt_d = ttur_adam(g.parameters(), d.parameters(), lr_g=1e-4, lr_d=4e-4)
    assert opt_g.param_groups[0]["lr"] == pytest.approx(1e-4) and opt_d.param_groups[0]["lr"] == pytest.approx(4e-4)
    set_lr_factor(opt_d, "schedule", 0.5)
    apply_ttur(opt_g, opt_d, 2e-4, 1e-3)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_adaptive_controller_slows_a_winning_d_and_round_trips():
    c = AdaptiveLRController(target=0.6, margin=0.1, factor=2.0, min_scale=0.3, nets=("g", "d"))
    for _ in range(3):
        c.observe(torch.ones(8))  # D calls every real real: it is winning
    assert c.adjust() == pytest.approx(1.0)
    assert c.scales == {"g": 2.0, "d": 0.5}
    c.observe(torch.ones(8))
    c.adjust()
    assert c.scales["d"] == pytest.approx(0.3)  # clamped at min_scale
    assert c.adjust() is None  # nothing observed since
    opt_g, opt_d = (torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1) for _ in range(2))
    c.apply(opt_g, opt_d)
    assert opt_d.param_groups[0]["lr"] == pytest.approx(0.03) and opt_g.param_groups[0]["lr"] == pytest.approx(0.2)
    c.observe(-torch.ones(4))
    other = AdaptiveLRController(nets=("g", "d"))
    other.load_state_dict(c.state_dict())
    assert other.scales == c.scales and other.state_dict() == c.state_dict()
    with pytest.raises(ValueError, match="min_scale"):
        AdaptiveLRController(min_scale=2.0)
