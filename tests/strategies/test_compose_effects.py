"""Composed strategies each keep their effect: both are visible in the run, not only
finite samples."""
import math

import pytest
import torch

from modeguard.remedies import schedule_factor
from modeguard.train import Trainer

from .logged import last_metrics


def _differs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return not all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


def test_r1_with_ema_logs_the_penalty_and_averages_g(tiny_config, tmp_path):
    t = Trainer(tiny_config(strategies="r1:gamma=2,ema:beta=0.9"), tmp_path)
    t.fit()
    row = last_metrics(tmp_path)
    assert row["r1"] > 0
    ema_g = t.eval_generator()
    assert ema_g is not t.ctx.G and _differs(ema_g, t.ctx.G)


def test_spectral_norm_on_g_with_ema_averages_the_normalised_g(tiny_config):
    t = Trainer(tiny_config(strategies="spectral-norm:nets=g+d,ema:beta=0.5"))
    t.fit()
    ema_g = t.eval_generator()
    for m in ema_g.modules():
        if isinstance(m, torch.nn.Linear):
            assert hasattr(m, "parametrizations")  # the copy carries G's spectral norm
    assert _differs(ema_g, t.ctx.G)
    sigma = torch.linalg.matrix_norm(next(m for m in t.ctx.D.modules()
                                          if isinstance(m, torch.nn.Linear)).weight.detach(), 2)
    assert float(sigma) == pytest.approx(1.0, abs=0.1)


def test_ttur_schedule_and_adaptive_lr_multiply(tiny_config, tmp_path):
    spec = "ttur:lr_g=0.001:lr_d=0.004,lr-schedule:warmup=0:kind=linear:final=0.5,adaptive-lr:interval=2:nets=d"
    t = Trainer(tiny_config(strategies=spec, steps=6), tmp_path)
    t.fit()
    row = last_metrics(tmp_path)
    schedule = schedule_factor(6, 6, 0, "linear", 0.5)
    scale = row["lr_scale_d"]
    assert row["lr_factor"] == pytest.approx(schedule)
    assert row["lr_g"] == pytest.approx(0.001 * schedule)
    assert row["lr_d"] == pytest.approx(0.004 * schedule * scale)
    assert math.isfinite(row["d_real_acc_avg"])


def test_instance_noise_with_label_smoothing_both_reach_d(tiny_config, tmp_path):
    t = Trainer(tiny_config(strategies="instance-noise:sigma=0.5:anneal=0,label-smoothing:real_label=0.8"),
                tmp_path)
    t.fit()
    b = t.ctx.last_d_batch
    assert not torch.equal(b.real_in, b.real)  # the noise is on what D saw
    assert last_metrics(tmp_path)["noise_sigma"] == pytest.approx(0.5)
    smoothing = t.ctx.strategies[1].d_loss(t.ctx, b)
    assert float(smoothing.detach()) == pytest.approx(0.2 * float(b.d_real.detach().float().mean()), rel=1e-5)
