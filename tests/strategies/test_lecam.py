"""lecam: the anchors track D's mean outputs (EMA), the penalty is zero while D's outputs
stay inside the anchors and the formula's value outside, and the anchors survive a checkpoint."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.strategies.lecam import lecam_penalty
from modeguard.train import Trainer
from modeguard.train.objective import Batch


def _feed(trainer, d_real, d_fake):
    batch = Batch("d", torch.zeros(4, 2), torch.zeros(4, 2), d_real=torch.tensor(d_real).reshape(-1, 1),
                  d_fake=torch.tensor(d_fake).reshape(-1, 1))
    return float(trainer.ctx.strategies[0].d_loss(trainer.ctx, batch))


def test_anchors_track_the_means_with_the_decay(tiny_config):
    trainer = Trainer(tiny_config(strategies="lecam:decay=0.9"))
    lecam = trainer.ctx.strategies[0]
    assert lecam.anchors is None
    _feed(trainer, [1.0, 3.0], [-1.0, -3.0])
    assert lecam.anchors == pytest.approx((2.0, -2.0))  # the first batch's means
    _feed(trainer, [0.0, 0.0], [0.0, 0.0])
    assert lecam.anchors == pytest.approx((1.8, -1.8))
    for _ in range(200):
        _feed(trainer, [5.0, 5.0], [-4.0, -4.0])
    assert lecam.anchors == pytest.approx((5.0, -4.0), abs=1e-4)
    assert float(trainer.ctx.stats["lecam_alpha_real"]) == pytest.approx(5.0, abs=1e-4)


def test_penalty_zero_inside_the_anchors_and_the_formula_outside():
    a_real, a_fake = torch.tensor(1.0), torch.tensor(-1.0)
    assert float(lecam_penalty(torch.tensor([-1.5, -1.0]), torch.tensor([1.0, 2.0]), a_real, a_fake)) == 0.0
    # reals 1 and 0 above the fake anchor -1 by 2 and 1; fakes 0 below the real anchor by 1
    value = lecam_penalty(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0]), a_real, a_fake)
    assert float(value) == pytest.approx((4 + 1) / 2 + (1 + 0) / 2)


def test_weight_scales_the_loss(tiny_config):
    trainer = Trainer(tiny_config(strategies="lecam:weight=2:decay=0"))
    loss = _feed(trainer, [1.0], [-1.0])  # anchors (1, -1): real 1 is 2 above -1, fake -1 is 2 below 1
    assert loss == pytest.approx(2 * (4 + 4))


def test_anchors_round_trip_a_checkpoint(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(strategies="lecam"), tmp_path / "run")
    trainer.fit()
    anchors = trainer.ctx.strategies[0].anchors
    reopened = Trainer.open(tmp_path / "run")
    assert reopened.ctx.strategies[0].anchors == pytest.approx(anchors)


def test_refused_beside_multi_g(tiny_config):
    with pytest.raises(ConfigError, match="multi-g"):
        Trainer(tiny_config(strategies="lecam,multi-g:k=2"))


def test_trains_on_images():
    from tests.strategies.test_ada import image_config

    trainer = Trainer(image_config(strategies="lecam,diffaugment"))
    trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.ctx.D.parameters())
    assert float(trainer.ctx.stats["lecam"]) >= 0
