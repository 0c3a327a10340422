import pytest
import torch
from torch import nn

from modeguard.errors import ConfigError
from modeguard.models import HeadedDiscriminator, build_models, spec_for
from modeguard.models.dcgan import resolution_plan


def _models(shape, **opts):
    spec = spec_for("dcgan", {"channels": 8, "z_dim": 12, **opts})
    return spec, *build_models(spec, shape)


@pytest.mark.parametrize("side, plan", [(8, (2, 2)), (28, (7, 2)), (32, (4, 3)), (64, (8, 3)), (6, (3, 1))])
def test_resolution_plan(side, plan):
    assert resolution_plan(side) == plan


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 28, 28), (3, 28, 28), (3, 32, 32)])
def test_shapes_and_output_range(shape):
    spec, G, D = _models(shape)
    x = G(torch.randn(5, spec.z_dim))
    assert x.shape == (5, *shape)
    assert x.abs().max() <= 1  # tanh output
    assert isinstance(D, HeadedDiscriminator)
    assert D(x).shape == (5, 1)
    assert D.features(x).shape == (5, D.feature_dim)
    assert torch.allclose(D.head(D.pre_head(D.features(x))), D(x))


def test_dcgan_preset_and_widths():
    spec = spec_for("dcgan")
    assert spec.arch == "dcgan" and spec.g_batchnorm and spec.channels == 64
    _, G, D = _models((1, 28, 28), channels=4)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 8]
    assert D.feature_dim == 8 * 7 * 7


def test_pack_multiplies_input_channels_and_accepts_flat_inputs():
    _, G, D = _models((3, 8, 8), d_pack=4)
    first = next(m for m in D.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 12
    x = torch.randn(8, 3, 8, 8)
    packed = x.reshape(2, 12, 8, 8)
    assert torch.equal(D(packed), D(x.reshape(2, -1)))


def test_batchnorm_flags():
    _, G, D = _models((1, 8, 8), g_batchnorm=False, d_batchnorm=True)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in G.modules())
    bns = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 1  # every conv but the first
    _, G, _ = _models((1, 8, 8), g_batchnorm=True)
    assert sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in G.modules()) == 2


def test_d_out_and_head_layers():
    extra = lambda f: (nn.Linear(f, 7), 7)  # noqa: E731
    _, _, D = _models((1, 8, 8), d_out=4, d_head_layers=[extra])
    assert D(torch.randn(3, 1, 8, 8)).shape == (3, 4)
    assert D.head.in_features == 7


def test_ensembles_work_with_dcgan():
    _, G, D = _models((1, 8, 8), num_generators=2, num_discriminators=3)
    x = G(torch.randn(6, 12))
    assert x.shape == (6, 1, 8, 8) and D(x).shape == (6, 3)


@pytest.mark.parametrize("shape, message", [((2,), "image data"), ((1, 8, 6), "square"), ((1, 7, 7), "even")])
def test_rejects_data_it_cannot_model(shape, message):
    with pytest.raises(ConfigError, match=message):
        _models(shape)


def test_seed_mlp_on_784_pixel_images():
    spec = spec_for("seed-mlp")
    G, D = build_models(spec, (1, 28, 28))
    x = G(torch.randn(4, spec.z_dim))
    assert x.shape == (4, 1, 28, 28) and x.abs().max() <= 1
    assert D(x).shape == (4, 1)
    assert D.body[1].in_features == 784


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_g_channels_widens_g_only(arch):
    shape = (3, 8, 8) if arch == "dcgan" else (3, 32, 32)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    G, D = build_models(spec_for(arch, {"channels": 8, "z_dim": 12}), shape)
    G2, D2 = build_models(spec_for(arch, {"channels": 8, "g_channels": 16, "z_dim": 12}), shape)
    assert count(D2) == count(D) and count(G2) > count(G)
    assert G2(torch.randn(4, 12)).shape == (4, *shape)
    with pytest.raises(ConfigError, match="g_channels"):
        spec_for(arch, {"g_channels": 0}).validate()
