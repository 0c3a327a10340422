import pytest
import torch
import torch.nn.functional as F

from modeguard.errors import ConfigError
from modeguard.train import Trainer


@pytest.mark.parametrize("loss, label", [("ns", 0.9), ("minimax", 0.75)])
def test_d_loss_is_bce_with_smoothed_real_target(tiny_config, loss, label):
    trainer = Trainer(tiny_config(strategies=f"label-smoothing:real_label={label}", loss=loss))
    ctx, n = trainer.ctx, trainer.ctx.config.batch_size
    trainer.train_step()  # move D away from its initialisation first
    rng_state = ctx.rng.get_state()
    real = ctx.sample_real(n)
    with torch.no_grad():
        fake = ctx.G(ctx.sample_z(n))
        d_real, d_fake = ctx.D(real), ctx.D(fake)
    ctx.rng.set_state(rng_state)  # d_step draws the same batch
    expected = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, label))
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    assert float(trainer.steps.d_step()) == pytest.approx(float(expected), abs=1e-5)


@pytest.mark.parametrize("spec, loss, word", [
    ("label-smoothing", "wgan", "wgan"),
    ("label-smoothing", "hinge", "hinge"),
    ("label-smoothing:real_label=1.2", "ns", "real_label"),
    ("label-smoothing:fake_label=0.1", "ns", "fake_label"),
    ("label-smoothing,multi-g", "ns", "multi-g"),
])
def test_bad_options(tiny_config, spec, loss, word):
    with pytest.raises(ConfigError, match=f"label-smoothing.*{word}"):
        Trainer(tiny_config(strategies=spec, loss=loss))


def test_each_of_several_discriminators_gets_the_smoothed_target(tiny_config):
    trainer = Trainer(tiny_config(strategies="label-smoothing,multi-d:k=2"))
    ctx, smoothing = trainer.ctx, trainer.ctx.strategies[0]
    trainer.steps.d_step()
    batch = ctx.last_d_batch
    assert batch.d_real.shape[1] == 2
    real_only = sum(F.binary_cross_entropy_with_logits(batch.d_real[:, k], torch.full((len(batch.d_real),), 0.9))
                    - F.softplus(-batch.d_real[:, k]).mean() for k in range(2))
    assert float(smoothing.d_loss(ctx, batch).detach()) == pytest.approx(float(real_only.detach()), abs=1e-6)
