"""gp (WGAN-GP): the penalty against finite differences, interpolation, and bad input."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.models.mlp import mlp_discriminator
from modeguard.strategies import registry
from modeguard.remedies import gradient_penalty, interpolate
from modeguard.train import Trainer
from modeguard.train.objective import Batch

from .logged import last_metrics


def _small_d(out_dim=1):
    torch.manual_seed(0)
    return mlp_discriminator(2, [8, 8], out_dim, "tanh").double()


def _fd_grad_norms(D, x, column=0, h=1e-6):
    """||d D(x)[column] / dx|| per row, by central differences."""
    grads = torch.zeros_like(x)
    with torch.no_grad():
        for j in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, j] = h
            grads[:, j] = (D(x + e)[:, column] - D(x - e)[:, column]) / (2 * h)
    return grads.norm(dim=1)


@pytest.mark.parametrize("center", [1.0, 0.0, 0.5])
def test_penalty_matches_finite_differences(center):
    D = _small_d()
    x = torch.randn(7, 2, dtype=torch.float64)
    norms = _fd_grad_norms(D, x)
    expected = ((norms - center) ** 2).mean()
    got = gradient_penalty(D, x, center)
    assert torch.allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got > 0


def test_penalty_per_output_column_is_summed():
    D = _small_d(out_dim=3)
    x = torch.randn(5, 2, dtype=torch.float64)
    expected = sum(((_fd_grad_norms(D, x, k) - 1) ** 2).mean() for k in range(3))
    assert torch.allclose(gradient_penalty(D, x, 1.0), expected, rtol=1e-6)


def test_penalty_is_differentiable_in_d_params():
    D = _small_d()
    gradient_penalty(D, torch.randn(4, 2, dtype=torch.float64)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.body.parameters())


def test_interpolate():
    real, fake = torch.ones(3, 2), torch.zeros(3, 2)
    x = interpolate(real, fake, torch.tensor([1.0, 0.0, 0.25]))
    assert torch.equal(x, torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.25, 0.25]]))


def test_d_loss_is_weight_times_penalty_at_rng_interpolates(tiny_config):
    t = Trainer(tiny_config(strategies="gp:weight=3", loss="wgan"))
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    b = Batch("d", real, fake, real, fake)
    state = t.ctx.rng.get_state()
    got = t.ctx.strategies[0].d_loss(t.ctx, b)
    t.ctx.rng.set_state(state)
    alpha = torch.rand(32, generator=t.ctx.rng)
    expected = 3 * gradient_penalty(t.ctx.D, interpolate(real, fake, alpha), 1.0)
    assert torch.allclose(got, expected)
    assert float(t.ctx.stats["gp"]) == pytest.approx(float(expected.detach()) / 3, rel=1e-6)


def test_trains_with_wgan(tiny_config, tmp_path):
    t = Trainer(tiny_config(strategies="gp", loss="wgan", n_critic=2), tmp_path)
    t.fit()
    assert last_metrics(tmp_path)["gp"] > 0


@pytest.mark.parametrize("spec, kw, match", [
    ("gp:lambda=10", {}, "unknown option 'lambda'"),
    ("gp:weight=ten", {}, "option 'weight' must be float"),
    ("gp:weight=-1", {}, "option 'weight' must be >= 0"),
    ("gp:center=-1", {}, "option 'center' must be >= 0"),
    ("gp", {"loss": "lsgan"}, "loss 'lsgan'"),
    ("gp", {"loss": "minimax"}, "loss 'minimax'"),
    ("gp", {"model_options": {"d_batchnorm": True, "d_hidden": [8]}}, "batchnorm"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="gp") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)


@pytest.mark.parametrize("nets, bad", [("d", True), ("g+d", True), ("g", False)])
def test_rejects_batchnorm_strategy_on_d(nets, bad, tiny_config):
    if "batchnorm" not in registry():
        pytest.skip("batchnorm strategy not registered")
    config = tiny_config(strategies=f"batchnorm:nets={nets},gp")
    if bad:
        with pytest.raises(ConfigError, match="'gp'.*batchnorm"):
            Trainer(config)
    else:
        Trainer(config)  # batchnorm in G only mixes nothing D's gradient sees
