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
    ("ema:tail=1.5", "option 'tail' must be <= 1"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match="ema") as e:
        Trainer(tiny_config(strategies=spec))
    assert match in str(e.value)


def test_tail_is_the_uniform_mean_of_the_tail(tiny_config):
    """ema:tail=F: over the last F of the run the copy is the plain mean of the tail start's
    average and every G of the tail (batch-norm statistics too)."""
    t = Trainer(tiny_config(strategies="ema:beta=0.9:tail=0.5", steps=8,
                            model_options={"g_batchnorm": True}))
    ema = t.ctx.strategies[0]
    assert ema.tail_start(t.ctx) == 4
    for _ in range(4):
        t.train_step()
    stats = lambda G: [b.detach().clone() for n, b in G.named_buffers() if n.endswith(("running_mean", "running_var"))]
    seen = [_params(ema.G_ema) + stats(ema.G_ema)]  # the tail start's average
    for _ in range(4):
        t.train_step()
        seen.append(_params(t.ctx.G) + stats(t.ctx.G))
    mean = [torch.stack(group).mean(0) for group in zip(*seen)]
    got = _params(ema.G_ema) + stats(ema.G_ema)
    assert len(stats(ema.G_ema)) > 0
    for m, g in zip(mean, got):
        assert torch.allclose(m, g, atol=1e-6)
    # an EMA with beta 0.9 over the same steps would differ
    assert not torch.allclose(got[0], seen[-1][0], atol=1e-6)
