import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.strategies import parse_strategy
from modeguard.train import Trainer


def test_input_variance_grows_by_sigma_squared(tiny_config):
    trainer = Trainer(tiny_config(strategies="instance-noise:sigma=0.3"))
    ctx, noise = trainer.ctx, trainer.ctx.strategies[0]
    real, fake = ctx.sample_real(200000), torch.zeros(200000, 2)
    real_in, fake_in = noise.d_inputs(ctx, real, fake)
    assert real_in.var(0) - real.var(0) == pytest.approx(torch.full((2,), 0.09), abs=0.003)
    assert fake_in.var(0) == pytest.approx(torch.full((2,), 0.09), abs=0.003)
    assert float((real_in - real).mean()) == pytest.approx(0.0, abs=0.01)
    assert ctx.stats["noise_sigma"] == 0.3


def test_sigma_anneals_linearly_to_zero():
    s = parse_strategy("instance-noise:sigma=0.2:anneal=0.5")
    assert [s.sigma_at(t, 100) for t in (0, 25, 50, 80)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    assert parse_strategy("instance-noise:sigma=0.2:anneal=0").sigma_at(99, 100) == 0.2


def test_after_annealing_d_sees_clean_inputs(tiny_config):
    trainer = Trainer(tiny_config(strategies="instance-noise:sigma=0.5:anneal=0.5"))
    trainer.fit()
    batch = trainer.ctx.last_d_batch
    assert trainer.ctx.stats["noise_sigma"] == 0.0
    assert torch.equal(batch.real_in, batch.real) and torch.equal(batch.fake_in, batch.fake)


def test_noise_comes_from_the_run_generator(tiny_config):
    a, b = (Trainer(tiny_config(strategies="instance-noise:sigma=1")) for _ in range(2))
    for t in (a, b):
        t.fit()
    assert torch.equal(a.ctx.last_d_batch.real_in, b.ctx.last_d_batch.real_in)


@pytest.mark.parametrize("spec, word", [
    ("instance-noise:sigma=-0.1", "sigma"),
    ("instance-noise:anneal=1.5", "anneal"),
    ("instance-noise:sigma=big", "sigma"),
    ("instance-noise:std=0.1", "std"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"instance-noise.*{word}"):
        Trainer(tiny_config(strategies=spec))
