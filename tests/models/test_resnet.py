"""The SNGAN-style ResNet: output shapes at 8 / 28 / 32 / 64 px, refusals, and a few
training steps through the Trainer on tiny image sets."""
import numpy as np
import pytest
import torch
from PIL import Image

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.models import HeadedDiscriminator, build_models, spec_for
from modeguard.models.resnet import resnet_plan
from modeguard.train import Trainer
from tests.data.idx_files import write_mnist_folder


def _models(shape, **opts):
    spec = spec_for("resnet", {"channels": 8, "z_dim": 12, **opts})
    return spec, *build_models(spec, shape)


@pytest.mark.parametrize("side, plan", [(8, (4, 1)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (6, (6, 0))])
def test_resolution_plan(side, plan):
    assert resnet_plan(side) == plan


@pytest.mark.parametrize("shape", [(3, 8, 8), (1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_shapes_and_output_range(shape):
    spec, G, D = _models(shape)
    x = G(torch.randn(4, spec.z_dim))
    assert x.shape == (4, *shape) and x.abs().max() <= 1
    assert isinstance(D, HeadedDiscriminator)
    assert D(x).shape == (4, 1) and D.features(x).shape == (4, 8)
    x.mean().backward()  # the graph reaches G through the tanh
    assert all(p.grad is not None for p in G.parameters())


def test_preset_pack_and_batchnorm_flag():
    spec = spec_for("resnet")
    assert spec.arch == "resnet" and spec.channels == 64 and spec.z_dim == 128 and spec.g_batchnorm
    _, G, D = _models((3, 8, 8), d_pack=2, g_batchnorm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    x = torch.randn(4, 6, 8, 8)
    assert D(x).shape == (4, 1) and torch.equal(D(x), D(x.reshape(4, -1)))


@pytest.mark.parametrize("shape, match", [((3, 7, 7), "even image side"), ((3, 8, 16), "square"),
                                          ((2,), "image data")])
def test_refuses_unfit_shapes(shape, match):
    with pytest.raises(ConfigError, match=match):
        _models(shape)


def _config(data, **kw):
    base = dict(data=data, model="resnet", strategies="none", steps=2, batch_size=8, log_every=1,
                sample_every=1000, ckpt_every=1000, progress=False, eval_samples=32,
                model_options={"channels": 8, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def test_trains_on_stacked_digits_with_spectral_norm():
    trainer = Trainer(_config("stacked-digits", strategies="spectral-norm,diffaugment"))
    result = trainer.fit()
    assert trainer.ctx.step == 2 and result["n"] == 32
    assert trainer.sample(4, seed=0).shape == (4, 3, 8, 8)


def test_trains_on_28px_mnist_format(tmp_path):
    folder = write_mnist_folder(tmp_path / "mnist", n_train=16, n_test=8)
    trainer = Trainer(_config(f"mnist:{folder}"))
    trainer.fit()
    assert trainer.sample(3, seed=0).shape == (3, 1, 28, 28)


def test_trains_on_a_32px_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    trainer = Trainer(_config(f"images:{tmp_path}@32"))
    trainer.fit()
    samples = trainer.sample(2, seed=0)
    assert samples.shape == (2, 3, 32, 32) and np.isfinite(samples).all()
