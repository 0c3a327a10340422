"""diffaugment: reals and fakes are augmented in both phases, the shift is the drawn one,
G's gradient passes through, and a tiny image run trains."""
import pytest
import torch

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.strategies import parse_strategy
from modeguard.train import Trainer


def image_config(**kw):
    base = dict(data="stacked-digits", model="dcgan", strategies="diffaugment", steps=3, batch_size=16,
                log_every=1, sample_every=1000, ckpt_every=1000, progress=False, eval_samples=64,
                model_options={"channels": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def _dot(n, side=8):
    img = -torch.ones(n, 3, side, side)
    img[:, :, 4, 4] = 1.0
    return img


def test_translation_policy_shifts_by_a_drawn_amount_within_the_ratio():
    trainer = Trainer(image_config(strategies="diffaugment:policy=translation:translation=0.25"))
    strategy = trainer.ctx.strategies[0]
    real, fake = _dot(64), _dot(64)
    real_in, fake_in = strategy.d_inputs(trainer.ctx, real + 1, fake + 1)  # a lone bright pixel on black
    for out in (real_in, fake_in):
        flat = out[:, 0].reshape(64, -1).argmax(1)
        dy, dx = flat // 8 - 4, flat % 8 - 4
        assert dy.abs().max() <= 2 and dx.abs().max() <= 2 and (dy.abs() + dx.abs()).gt(0).any()
        assert torch.allclose(out.sum(dim=(1, 2, 3)), torch.full((64,), 6.0))  # moved, never lost at +-2


def test_fakes_keep_their_gradient_through_the_augmentation():
    trainer = Trainer(image_config())
    fake = (torch.rand(16, 3, 8, 8) * 2 - 1).requires_grad_(True)
    _, fake_in = trainer.ctx.strategies[0].d_inputs(trainer.ctx, torch.zeros(16, 3, 8, 8), fake)
    assert not torch.equal(fake_in, fake)
    fake_in.sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_both_phases_see_augmented_reals_and_fakes():
    trainer = Trainer(image_config())
    trainer.fit()
    d, g = trainer.ctx.last_d_batch, trainer.ctx.last_g_batch
    assert not torch.equal(d.real_in, d.real) and not torch.equal(d.fake_in, d.fake)
    assert not torch.equal(g.fake_in, g.fake)
    assert all(torch.isfinite(p).all() for p in trainer.ctx.G.parameters())


def test_policy_option_and_its_spec_string():
    s = parse_strategy("diffaugment:policy=color+cutout")
    assert s.policy == ("color", "cutout") and s.spec_string() == "diffaugment:policy=color+cutout"
    with pytest.raises(ConfigError, match="policy"):
        parse_strategy("diffaugment:policy=color+blur")


def test_point_data_needs_translation(tiny_config):
    with pytest.raises(ConfigError, match="point data"):
        Trainer(tiny_config(strategies="diffaugment:policy=color+cutout"))
    trainer = Trainer(tiny_config(strategies="diffaugment"))  # the point form: a shift of each row
    trainer.fit()
    b = trainer.ctx.last_d_batch
    assert not torch.equal(b.real_in, b.real)
