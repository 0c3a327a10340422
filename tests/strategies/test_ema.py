"""ema: the averaged weights follow ema_t = beta * ema_{t-1} + (1 - beta) * w_t, and sampling uses them."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _params(G):
    return [p.detach().clone() for p in G.parameters()]


@pytest.mark.parametrize("start", [0, 2])
def test_ema_recurrence(start, tiny_config):
    beta = 0.8
    t = Trainer(tiny_config(strategies=f"ema:beta={beta}:start={start}"))
    ema = t.ctx.strategies[0]
    expected = _params(t.ctx.G)  # the copy made at setup
    assert all(torch.equal(a, b) for a, b in zip(expected, _params(ema.G_ema)))
    for _ in range(5):
        t.train_step()
        w = _params(t.ctx.G)
        b = beta if t.ctx.step > start else 0.0  # before `start` the average just copies G
        expected = [b * e + (1 - b) * x for e, x in zip(expected, w)]
        for e, got in zip(expected, _params(ema.G_ema)):
            assert torch.allclose(e, got, atol=1e-7)
    assert not all(torch.equal(a, b) for a, b in zip(_params(t.ctx.G), _params(ema.G_ema)))


def test_eval_generator_is_the_ema_copy(tiny_config):
    t = Trainer(tiny_config(strategies="ema:beta=0.5"))
    t.fit()
    ema = t.ctx.strategies[0]
    assert t.eval_generator() is ema.G_ema and ema.G_ema is not t.ctx.G
    assert not any(p.requires_grad for p in ema.G_ema.parameters())
    z = torch.randn(10, t.ctx.spec.z_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        expected = ema.G_ema(z)
        training = t.ctx.G(z)
    samples = torch.as_tensor(t.sample(10, seed=4), dtype=torch.float32)
    assert torch.allclose(samples, expected, atol=1e-6)
    assert not torch.allclose(samples, training)


@pytest.mark.parametrize("spec, match", [
    ("ema:decay=0.9", "unknown option 'decay'"),
    ("ema:beta=slow", "option 'beta' must be float"),
    ("ema:beta=1.5", "option 'beta' must be <= 1"),
    ("ema:start=-1", "option 'start' must be >= 0"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match="ema") as e:
        Trainer(tiny_config(strategies=spec))
    assert match in str(e.value)
