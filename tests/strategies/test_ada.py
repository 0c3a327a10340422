"""ada: p rises while D overfits (r_t > target) and falls otherwise, at the set speed;
p = 0 leaves D's inputs alone; p is logged and survives a checkpoint."""
import pytest
import torch

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.strategies import parse_strategy
from modeguard.train import Trainer
from modeguard.train.objective import Batch


def image_config(**kw):
    base = dict(data="stacked-digits", model="dcgan", strategies="ada", steps=3, batch_size=16, log_every=1,
                sample_every=1000, ckpt_every=1000, progress=False, eval_samples=64,
                model_options={"channels": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def _feed(trainer, strategy, d_real_value, times):
    """``times`` D steps on which D scores every real ``d_real_value``; returns p after each."""
    ps = []
    for _ in range(times):
        d_real = torch.full((16, 1), d_real_value)
        batch = Batch("d", torch.zeros(16, 3, 8, 8), torch.zeros(16, 3, 8, 8), d_real=d_real,
                      d_fake=-d_real)
        strategy.d_loss(trainer.ctx, batch)
        ps.append(float(strategy.state_dict()["p"]))
    return ps


def test_p_rises_when_d_overfits_and_falls_otherwise():
    # 16 images per D step, interval 2, speed 0.32 kimg: p moves 0.1 per adjustment
    trainer = Trainer(image_config(strategies="ada:interval=2:speed_kimg=0.32"))
    ada = trainer.ctx.strategies[0]
    up = _feed(trainer, ada, 3.0, 6)  # r_t = 1 > 0.6
    assert up == pytest.approx([0.0, 0.1, 0.1, 0.2, 0.2, 0.3])
    down = _feed(trainer, ada, -3.0, 8)  # r_t = -1 < 0.6
    assert down[-1] == 0.0 and down[1] == pytest.approx(0.2)
    assert float(trainer.ctx.stats["ada_rt"]) == -1.0


def test_p_is_capped_at_p_max():
    trainer = Trainer(image_config(strategies="ada:interval=1:speed_kimg=0.016:p_max=0.5"))
    assert _feed(trainer, trainer.ctx.strategies[0], 1.0, 3)[-1] == 0.5


def test_p_zero_leaves_inputs_alone_and_p_one_changes_them():
    trainer = Trainer(image_config())
    ada = trainer.ctx.strategies[0]
    real, fake = torch.rand(16, 3, 8, 8), torch.rand(16, 3, 8, 8)
    r, f = ada.d_inputs(trainer.ctx, real, fake)
    assert torch.equal(r, real) and torch.equal(f, fake)
    ada.load_state_dict({"p": torch.tensor(1.0)})
    r, _ = ada.d_inputs(trainer.ctx, real, fake)
    assert not torch.equal(r, real)


def test_p_is_logged_and_round_trips_a_checkpoint(tmp_path):
    trainer = Trainer(image_config(strategies="ada:p_init=0.4:speed_kimg=1", steps=4, ckpt_every=4),
                      tmp_path / "run")
    trainer.fit()
    p = float(trainer.ctx.stats["ada_p"])
    assert 0.0 <= p <= 1.0 and p != 0.4  # moved by 16 * 4 / 1000 per adjustment
    reopened = Trainer.open(tmp_path / "run")
    assert float(reopened.ctx.strategies[0].p) == pytest.approx(p)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="p_init"):
        Trainer(image_config(strategies="ada:p_init=0.9:p_max=0.5"))
    with pytest.raises(ConfigError, match="pipeline"):
        parse_strategy("ada:pipeline=xflip+blur")
