"""The new strategies combined with each other and with the rest: they build, train a few
steps, and each still does its job (shapes and losses say so)."""
import pytest
import torch

from modeguard.models import MultiDiscriminator, MultiGenerator
from modeguard.nn import MinibatchDiscrimination, MinibatchStdDev
from modeguard.train import Trainer

from .logged import last_metrics


def _fit(tiny_config, strategies, run_dir=None, **kw):
    t = Trainer(tiny_config(strategies=strategies, **kw), run_dir)
    t.fit()
    assert torch.isfinite(torch.as_tensor(t.sample(16, seed=1))).all()
    return t


def test_pacgan_with_multi_d(tiny_config):
    t = _fit(tiny_config, "pacgan:m=4,multi-d:k=2")
    assert isinstance(t.ctx.D, MultiDiscriminator)
    assert all(d.body[1].in_features == 8 for d in t.ctx.D.discriminators)
    assert t.ctx.last_d_batch.d_real.shape == (8, 2)


def test_pacgan_with_minibatch_stddev_and_disc(tiny_config):
    t = _fit(tiny_config, "pacgan:m=2,minibatch-stddev,minibatch-disc:kernels=3")
    kinds = [type(m) for m in t.ctx.D.pre_head]
    assert kinds == [MinibatchStdDev, MinibatchDiscrimination]
    assert t.ctx.D.head.in_features == 16 + 1 + 3
    assert t.ctx.last_d_batch.real_in.shape == (16, 4)


def test_multi_g_with_ema(tiny_config):
    t = _fit(tiny_config, "multi-g:k=4,ema:beta=0.9")
    assert isinstance(t.eval_generator(), MultiGenerator)
    assert t.eval_generator() is not t.ctx.G


def test_multi_g_with_pacgan_labels_follow_packs(tiny_config):
    t = _fit(tiny_config, "multi-g:k=4,pacgan:m=2")
    b = t.ctx.last_d_batch
    assert b.fake_in.shape == (16, 4) and b.d_fake.shape == (16, 5)
    labels = t.ctx.objective.fake_labels(t.ctx, b)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4


def test_unrolled_with_r1(tiny_config, tmp_path):
    _fit(tiny_config, "unrolled:steps=2,r1:gamma=1", tmp_path)
    assert last_metrics(tmp_path)["r1"] > 0


@pytest.mark.parametrize("other", ["pacgan:m=2", "multi-d:k=2", "multi-g:k=2", "spectral-norm",
                                   "minibatch-disc:kernels=2", "instance-noise"])
def test_unrolled_with_model_and_input_edits(other, tiny_config):
    _fit(tiny_config, f"unrolled:steps=2,{other}")


def test_gp_with_pacgan_and_multi_d(tiny_config, tmp_path):
    _fit(tiny_config, "gp,pacgan:m=2,multi-d:k=2", tmp_path, loss="wgan")
    assert last_metrics(tmp_path)["gp"] > 0


def test_feature_matching_with_pacgan_and_multi_g(tiny_config):
    _fit(tiny_config, "feature-matching,pacgan:m=2,multi-g:k=2")
    _fit(tiny_config, "feature-matching:replace=true,multi-g:k=2")


def test_minibatch_stddev_in_every_discriminator(tiny_config):
    t = _fit(tiny_config, "multi-d:k=2,minibatch-stddev")
    assert all(d.head.in_features == 17 for d in t.ctx.D.discriminators)
