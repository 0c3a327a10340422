"""pacgan: m samples packed into one D input."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.strategies.pacgan import pack
from modeguard.train import Trainer


def test_pack_points_concatenates_consecutive_samples():
    x = torch.arange(12.0).reshape(6, 2)
    p = pack(x, 3)
    assert p.shape == (2, 6)
    assert torch.equal(p[0], torch.cat([x[0], x[1], x[2]]))
    assert torch.equal(p[1], torch.cat([x[3], x[4], x[5]]))


def test_pack_images_along_channels():
    x = torch.randn(4, 3, 5, 5)
    p = pack(x, 2)
    assert p.shape == (2, 6, 5, 5)
    assert torch.equal(p[1, :3], x[2]) and torch.equal(p[1, 3:], x[3])


@pytest.mark.parametrize("m", [2, 4])
def test_d_input_width_is_m_times_d(m, tiny_config):
    t = Trainer(tiny_config(strategies=f"pacgan:m={m}"))
    first = next(mod for mod in t.ctx.D.modules() if isinstance(mod, torch.nn.Linear))
    assert first.in_features == m * 2
    t.train_step()
    for batch in (t.ctx.last_d_batch, t.ctx.last_g_batch):
        assert batch.real_in.shape == (32 // m, m * 2)
        assert batch.fake_in.shape == (32 // m, m * 2)
        assert torch.equal(batch.real_in[0], batch.real[:m].reshape(-1))
    assert t.ctx.last_d_batch.d_real.shape == (32 // m, 1)


@pytest.mark.parametrize("spec, kw, match", [
    ("pacgan:pack=2", {}, "unknown option 'pack'"),
    ("pacgan:m=two", {}, "option 'm' must be int"),
    ("pacgan:m=1", {}, "option 'm' must be >= 2"),
    ("pacgan:m=3", {"batch_size": 32}, "batch_size 32 must be divisible by option m=3"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="pacgan") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)
