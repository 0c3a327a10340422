"""Every registered strategy on an image run: 2 steps of stacked-digits with a tiny DCGAN.

Strategies that do not apply to images are listed in NOT_FOR_IMAGES with the reason and
skipped; every other one must train, evaluate and sample (n, 3, 8, 8) images in [0, 1].
"""
import numpy as np
import pytest
import torch
from torch import nn

from modeguard.config import TrainConfig
from modeguard.strategies import registry
from modeguard.train import Trainer

#: strategy -> why it does not apply to image runs (none so far: every strategy is
#: written against the model-agnostic hooks, packing handles 4-D inputs)
NOT_FOR_IMAGES: dict[str, str] = {}


def image_config(**kw) -> TrainConfig:
    base = dict(data="stacked-digits", model="dcgan", strategies="none", steps=2, batch_size=16, log_every=1,
                sample_every=1000, ckpt_every=1000, progress=False, eval_samples=64,
                model_options={"channels": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def _spec(name: str, tmp_path) -> str:
    if name != "warm-start":
        return name
    source = Trainer(image_config(steps=1), tmp_path / "source")
    source.fit()
    return f"warm-start:checkpoint={tmp_path / 'source'}"


@pytest.mark.parametrize("name", sorted(registry()))
def test_strategy_trains_on_stacked_digits(name, tmp_path):
    if name in NOT_FOR_IMAGES:
        pytest.skip(f"{name} does not apply to images: {NOT_FOR_IMAGES[name]}")
    trainer = Trainer(image_config(strategies=_spec(name, tmp_path)))
    result = trainer.fit()
    assert trainer.ctx.step == 2
    assert {"modes", "kl", "fd_clf", "classifier_acc"} <= set(result) and result["n"] == 64
    samples = trainer.sample(6, seed=1)
    assert samples.shape == (6, 3, 8, 8) and np.isfinite(samples).all()
    assert samples.min() >= 0 and samples.max() <= 1


def test_pacgan_packs_channels():
    trainer = Trainer(image_config(strategies="pacgan:m=4"))
    first = next(m for m in trainer.ctx.D.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 12
    trainer.fit()
    assert trainer.ctx.last_d_batch.real_in.shape == (4, 12, 8, 8)


@pytest.mark.parametrize("name, stat", [("r1", "r1"), ("gp", None)])
def test_gradient_penalties_are_finite_on_images(name, stat):
    trainer = Trainer(image_config(strategies=name))
    trainer.fit()
    if stat:
        assert torch.isfinite(torch.as_tensor(trainer.ctx.stats[stat])) and float(trainer.ctx.stats[stat]) > 0
    assert all(torch.isfinite(p).all() for p in trainer.ctx.D.parameters())
