"""r1: the penalty against finite differences, its gamma / 2 scale, and lazy application."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.models.mlp import mlp_discriminator
from modeguard.remedies import r1_penalty as gradient_penalty_r1
from modeguard.train import Trainer
from modeguard.train.objective import Batch


def _fd_sq_grad_norms(D, x, h=1e-6):
    """||d D(x) / dx||^2 per row, by central differences."""
    grads = torch.zeros_like(x)
    with torch.no_grad():
        for j in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, j] = h
            grads[:, j] = ((D(x + e) - D(x - e)) / (2 * h)).squeeze(1)
    return grads.pow(2).sum(1)


def test_penalty_matches_finite_differences():
    torch.manual_seed(0)
    D = mlp_discriminator(2, [8, 8], 1, "tanh").double()
    x = torch.randn(9, 2, dtype=torch.float64)
    expected = _fd_sq_grad_norms(D, x).mean()
    got = gradient_penalty_r1(D, x)
    assert torch.allclose(got, expected, rtol=1e-6)
    assert got > 0


def test_d_loss_is_gamma_over_two_times_penalty(tiny_config):
    t = Trainer(tiny_config(strategies="r1:gamma=4"))
    real = torch.randn(32, 2)
    b = Batch("d", real, real, real, real)
    got = t.ctx.strategies[0].d_loss(t.ctx, b)
    assert torch.allclose(got, 2.0 * gradient_penalty_r1(t.ctx.D, real))
    assert float(t.ctx.stats["r1"]) == pytest.approx(float(got.detach()) / 2, rel=1e-6)


def test_d_step_loss_includes_the_penalty(tiny_config):
    plain, reg = Trainer(tiny_config()), Trainer(tiny_config(strategies="r1:gamma=10"))
    loss_plain, loss_reg = plain.steps.d_step(), reg.steps.d_step()
    b = plain.ctx.last_d_batch
    assert torch.equal(b.real, reg.ctx.last_d_batch.real)  # same seed, same batch
    # D before its step is the same in both runs: rebuild it to recompute the penalty
    D0 = Trainer(tiny_config()).ctx.D
    assert torch.allclose(loss_reg - loss_plain, 5.0 * gradient_penalty_r1(D0, b.real), atol=1e-6)


def test_lazy_every_n_scales_weight(tiny_config):
    t = Trainer(tiny_config(strategies="r1:gamma=1:every=3"))
    s = t.ctx.strategies[0]
    real = torch.randn(8, 2)
    b = Batch("d", real, real, real, real)
    assert s.d_loss(t.ctx, b) is None and s.d_loss(t.ctx, b) is None
    assert torch.allclose(s.d_loss(t.ctx, b), 1.5 * gradient_penalty_r1(t.ctx.D, real))


@pytest.mark.parametrize("spec, match", [
    ("r1:weight=1", "unknown option 'weight'"),
    ("r1:gamma=high", "option 'gamma' must be float"),
    ("r1:gamma=-1", "option 'gamma' must be >= 0"),
    ("r1:every=0", "option 'every' must be >= 1"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match="r1") as e:
        Trainer(tiny_config(strategies=spec))
    assert match in str(e.value)
