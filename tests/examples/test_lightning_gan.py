"""examples/lightning_gan.py: a LightningModule with the remedies and the monitor callback
(skipped without the optional 'lightning' extra)."""
import pytest
import torch

pytest.importorskip("lightning.pytorch")

from .load import load_example  # noqa: E402


def test_lightning_gan_trains_and_the_callback_checks(tmp_path):
    out = load_example("lightning_gan").main(["--steps", "30", "--every", "10", "--batch", "64",
                                              "--out", str(tmp_path)])
    module, callback = out["module"], out["callback"]
    assert len(callback.monitor.history) == 3
    assert 0 <= out["last"]["modes"] <= 8 and "loss_g" in out["last"]
    assert not all(torch.equal(a, b) for a, b in zip(module.G.parameters(), module.ema.module.parameters()))
    assert module.sample(5).shape == (5, 2)
