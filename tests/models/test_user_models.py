"""The user's own models: a factory named FILE.py:NAME / package.module:NAME, or ready-made modules."""
import pytest
import torch
from torch import nn

from modeguard.errors import ConfigError
from modeguard.models import build_models, spec_for, user_models

USER_MODEL = '''
import torch
from torch import nn


class G(nn.Module):
    def __init__(self, z_dim, out):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, out))

    def forward(self, z):
        return self.net(z)


def build(shape, hidden=16, z_dim=5, pack=1):
    d = shape[0]
    D = nn.Sequential(nn.Linear(d * pack, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, 1))
    return G(z_dim, d), D


def no_options(shape):
    return G(3, shape[0]), nn.Linear(shape[0], 1)


def anonymous_latent(shape):  # G without a z_dim attribute
    return nn.Linear(7, shape[0]), nn.Linear(shape[0], 1)


def wide_output(shape):
    return G(3, shape[0] + 1), nn.Linear(shape[0] + 1, 1)


def two_logits(shape):
    return G(3, shape[0]), nn.Linear(shape[0], 2)


def fails(shape):
    raise ValueError("no GPU here")


def not_a_pair(shape):
    return G(3, shape[0])


def conv(shape):
    c, h, w = shape
    G = nn.Sequential(nn.Linear(8, c * h * w), nn.Tanh(), nn.Unflatten(1, (c, h, w)))
    G.z_dim = 8
    D = nn.Sequential(nn.Conv2d(c, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.Flatten(),
                      nn.Linear(4 * h * w, 1))
    return G, D
'''


@pytest.fixture
def mine(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text(USER_MODEL)
    return str(f)


def test_a_factory_in_a_file_builds_checked_models(mine):
    spec = spec_for(f"{mine}:build", {"hidden": 8, "z_dim": 6})
    assert spec.is_user and spec.factory_ref == f"{mine}:build"
    G, D = build_models(spec, (2,))
    assert spec.z_dim == G.z_dim == 6  # the option reached the factory
    x = G(torch.randn(10, spec.z_dim))
    assert x.shape == (10, 2) and D(x).shape == (10, 1)
    assert D[0].out_features == 8


def test_z_dim_comes_from_g_then_the_option_then_the_default(mine):
    spec = spec_for(f"{mine}:anonymous_latent", {"z_dim": 7})
    G, _ = build_models(spec, (3,))
    assert spec.z_dim == 7  # the factory does not take z_dim: it sets the latent size only
    spec = spec_for(f"{mine}:no_options")
    build_models(spec, (3,))
    assert spec.z_dim == 3  # G.z_dim wins over the default
    with pytest.raises(ConfigError, match=r"G\(z\) with z of shape \(2, 16\).*failed"):
        build_models(spec_for(f"{mine}:anonymous_latent"), (3,))  # default 16 does not fit a 7-input G


def test_packing_reaches_a_factory_that_takes_it(mine):
    spec = spec_for(f"{mine}:build")
    spec.d_pack = 4  # what the pacgan strategy sets
    _, D = build_models(spec, (2,))
    assert D[0].in_features == 8
    spec = spec_for(f"{mine}:no_options")
    spec.d_pack = 4
    _, D = build_models(spec, (2,))  # no pack option: built unpacked; the strategy's check refuses it
    assert D.in_features == 2


def test_image_models_and_checks_leave_no_trace(mine):
    spec = spec_for(f"{mine}:conv")
    G, D = build_models(spec, (1, 6, 6))
    bn = D[1]
    assert D.training and G.training and bn.num_batches_tracked.item() == 0
    assert G(torch.randn(3, spec.z_dim)).shape == (3, 1, 6, 6)


@pytest.mark.parametrize("name, words", [
    ("wide_output", r"G maps z \(2, 3\) to \(2, 3\), but the data's samples are \(2,\)"),
    ("two_logits", r"D maps x \(2, 2\) to \(2, 2\); it must return one logit per input"),
    ("fails", r"building the models for data of shape \(2,\) failed: ValueError: no GPU here"),
    ("not_a_pair", "must return \\(G, D\\), got a G"),
])
def test_models_that_do_not_fit_are_one_line(mine, name, words):
    with pytest.raises(ConfigError, match=words) as e:
        build_models(spec_for(f"{mine}:{name}"), (2,))
    assert "\n" not in str(e.value)


def test_options_the_factory_does_not_take_are_refused(mine):
    with pytest.raises(ConfigError, match="does not accept option\\(s\\) 'widht' \\(it takes hidden, pack, z_dim\\)"):
        spec_for(f"{mine}:build", {"widht": 3})
    with pytest.raises(ConfigError, match="set by the pacgan strategy"):
        spec_for(f"{mine}:build", {"pack": 2})
    with pytest.raises(ConfigError, match="defines no 'absent'"):
        spec_for(f"{mine}:absent")


def test_a_factory_in_a_package(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg_for_models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(USER_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    G, D = build_models(spec_for("userpkg_for_models.nets:build"), (4,))
    assert D(G(torch.randn(2, G.z_dim))).shape == (2, 1)


def test_ready_made_modules():
    G = nn.Sequential(nn.Linear(4, 2))
    D = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    spec = user_models(G, D, z_dim=4)
    assert spec.z_dim == 4
    built = build_models(spec, (2,))
    assert built[0] is G and built[1] is D
    G.z_dim = 4
    assert user_models(G, D).z_dim == 4
    with pytest.raises(ConfigError, match=r"G maps z \(2, 4\) to \(2, 2\), but the data's samples are \(3,\)"):
        build_models(spec, (3,))
    with pytest.raises(ConfigError, match="discriminator must be a torch.nn.Module"):
        user_models(G, lambda x: x)


def test_presets_still_build_and_refuse_user_fields():
    spec = spec_for("mlp", {"z_dim": 3, "g_hidden": [8], "d_hidden": [8]})
    G, D = build_models(spec, (2,))
    assert D(G(torch.randn(4, 3))).shape == (4, 1) and not spec.is_user
    with pytest.raises(ConfigError, match="unknown model option"):
        spec_for("mlp", {"factory": print})
    with pytest.raises(ConfigError, match="FILE.py:NAME"):
        spec_for("resnet9000")
