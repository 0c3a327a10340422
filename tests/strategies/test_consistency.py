"""cr / bcr: the penalty is zero for a D that is invariant to the transform and positive
otherwise; bcr adds the term on fakes; tiny image runs train."""
import pytest
import torch
from torch import nn

from modeguard.config import TrainConfig
from modeguard.strategies.consistency import consistency_penalty
from modeguard.train import Trainer
from modeguard.train.objective import Batch


def image_config(**kw):
    base = dict(data="stacked-digits", model="dcgan", strategies="cr", steps=3, batch_size=16, log_every=1,
                sample_every=1000, ckpt_every=1000, progress=False, eval_samples=64,
                model_options={"channels": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


class PixelSum(nn.Module):
    """Sum of pixels (weighted by column when ``by_column``): invariant to x-flips only without weights."""

    def __init__(self, by_column=False):
        super().__init__()
        self.by_column = by_column

    def forward(self, x):
        w = torch.arange(x.shape[-1], dtype=x.dtype) if self.by_column else torch.ones(x.shape[-1])
        return (x * w).sum(dim=(1, 2, 3)).unsqueeze(1)


def _penalty(strategy_spec, D):
    trainer = Trainer(image_config(strategies=strategy_spec))
    trainer.ctx.D = D
    real, fake = torch.rand(16, 3, 8, 8), torch.rand(16, 3, 8, 8)
    batch = Batch("d", real, fake, real, fake, d_real=D(real), d_fake=D(fake))
    loss = trainer.ctx.strategies[0].d_loss(trainer.ctx, batch)
    return float(loss), {k: float(v) for k, v in trainer.ctx.stats.items()}


@pytest.mark.parametrize("spec", ["cr:transform=xflip", "bcr:transform=xflip"])
def test_zero_for_an_invariant_d_positive_otherwise(spec):
    assert _penalty(spec, PixelSum())[0] == pytest.approx(0.0, abs=1e-6)
    assert _penalty(spec, PixelSum(by_column=True))[0] > 1.0


def test_bcr_weights_each_side():
    loss, stats = _penalty("bcr:transform=xflip:weight_real=2:weight_fake=0", PixelSum(by_column=True))
    assert stats["bcr_real"] > 0 and stats["bcr_fake"] > 0
    assert loss == pytest.approx(2 * stats["bcr_real"], rel=1e-5)
    loss, stats = _penalty("cr:transform=xflip:weight=3", PixelSum(by_column=True))
    assert loss == pytest.approx(3 * stats["cr"], rel=1e-5)


def test_penalty_is_the_mean_squared_output_difference():
    D = nn.Linear(2, 1, bias=False)
    nn.init.constant_(D.weight, 1.0)
    x = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    moved = x + torch.tensor([[0.5, 0.5], [0.0, -1.0]])  # D changes by 1 and by -1
    assert float(consistency_penalty(D, x, D(x), moved).detach()) == pytest.approx(1.0)


@pytest.mark.parametrize("spec", ["cr", "bcr"])
def test_trains_on_images_and_points(spec, tiny_config):
    trainer = Trainer(image_config(strategies=spec))
    trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.ctx.D.parameters())
    assert any(float(v) > 0 for k, v in trainer.ctx.stats.items() if k.startswith(spec))
    points = Trainer(tiny_config(strategies=spec))
    points.fit()
    assert any(float(v) > 0 for k, v in points.ctx.stats.items() if k.startswith(spec))
