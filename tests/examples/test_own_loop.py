"""examples/own_loop.py: remedies and the monitor in a hand-written loop, a few steps."""
import pytest
import torch

from modeguard.remedies import schedule_factor

from .load import load_example


def test_own_loop_trains_with_the_remedies_and_the_monitor_checks():
    out = load_example("own_loop").main(["--steps", "40", "--every", "10", "--batch", "64"])
    assert out["checks"] == 4
    assert 0 <= out["last"]["modes"] <= 8 and "loss_d" in out["last"]
    assert out["r1"] > 0  # the lazy R1 penalty ran
    # TTUR's base rates (D twice as fast) times the cosine schedule's last factor
    assert out["lr_d"] == pytest.approx(2 * out["lr_g"])
    assert out["lr_g"] == pytest.approx(5e-4 * schedule_factor(39, 40, warmup=0, kind="cosine", final=0.01))
    # the EMA generator is a separate, averaged copy
    assert not all(torch.equal(a, b) for a, b in zip(out["G"].parameters(), out["G_ema"].parameters()))
