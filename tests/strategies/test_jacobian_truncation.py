"""jacobian-truncation: samples between modes come from latents where G's Jacobian peaks;
rejecting those latents removes them and keeps the modes' weights."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from modeguard.errors import ConfigError
from modeguard.strategies import parse_strategy
from modeguard.strategies.jacobian_truncation import TruncatedGenerator, jacobian_norms
from modeguard.train import Trainer


class TwoModes(nn.Module):
    """Two modes at x = -1 and +1 (2-D), joined by a steep ramp around z0 = 0: the samples
    between them are the latents near z0 = 0, where dG/dz0 peaks."""

    def forward(self, z):
        x = torch.tanh(8 * z[:, :1])
        return torch.cat([x, 0.0 * z[:, 1:2]], 1)


def _ctx(z_dim=3, shape=(2,)):
    return SimpleNamespace(step=0, spec=SimpleNamespace(z_dim=z_dim), device=torch.device("cpu"),
                           data=SimpleNamespace(shape=shape))


def _latents(n=20000, z_dim=3, seed=1):
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def test_removes_the_samples_between_modes_and_keeps_the_weights():
    G, z = TwoModes(), _latents()
    plain = G(z)[:, 0]
    truncated = parse_strategy("jacobian-truncation:q=0.2").eval_generator(_ctx(), G)(z)[:, 0]
    between = lambda x: float((x.abs() < 0.9).float().mean())
    assert between(plain) > 0.12  # the ramp holds a fair share of the plain samples
    assert between(truncated) < 0.25 * between(plain)
    # each mode keeps its half: the boundary is symmetric, so its rejection is too
    assert abs(float((truncated > 0).float().mean()) - 0.5) < 0.02


def test_exact_norm_is_the_frobenius_norm():
    A = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    G = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        G.weight.copy_(A)
    norms = jacobian_norms(G, _latents(5), None)
    assert torch.allclose(norms, torch.full((5,), float(A.pow(2).sum())), rtol=1e-5)


def test_samples_depend_on_their_own_latent_alone():
    """The same latents give the same samples in any chunking (and so on any rank)."""
    wrapped = parse_strategy("jacobian-truncation:q=0.2").eval_generator(_ctx(), TwoModes())
    z = _latents(400)
    whole = wrapped(z)
    parts = torch.cat([wrapped(z[:150]), wrapped(z[150:])])
    assert torch.equal(whole, parts)


def test_large_outputs_use_random_projections():
    """Images: the norm is estimated from probe vectors, the rejected share is about q."""
    G = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 48), nn.Unflatten(1, (3, 4, 4)))
    wrapped = parse_strategy("jacobian-truncation:q=0.1:tries=1").eval_generator(_ctx(shape=(3, 4, 4)), G)
    assert isinstance(wrapped, TruncatedGenerator) and len(wrapped.probes) == 2
    z = _latents(4000)
    norms = jacobian_norms(G, z, wrapped.probes)
    assert 0.05 < float((norms > wrapped.threshold).float().mean()) < 0.15
    assert wrapped(z).shape == (4000, 3, 4, 4)


def test_wraps_the_ema_copy_whatever_the_order(tiny_config):
    t = Trainer(tiny_config(strategies="jacobian-truncation:q=0.1,ema:beta=0.5"))
    t.fit()
    G = t.eval_generator()
    assert isinstance(G, TruncatedGenerator) and G.G is t.ctx.strategies[1].G_ema
    samples = t.sample(50)
    assert samples.shape == (50, 2) and math.isfinite(float(abs(samples).sum()))


def test_q_zero_changes_nothing(tiny_config):
    t = Trainer(tiny_config(strategies="jacobian-truncation:q=0"))
    assert t.eval_generator() is t.ctx.G


@pytest.mark.parametrize("spec, match", [
    ("jacobian-truncation:q=0.9", "option 'q' must be <= 0.5"),
    ("jacobian-truncation:probes=0", "option 'probes' must be >= 1"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match=match):
        Trainer(tiny_config(strategies=spec))


def test_threshold_is_reused_within_a_step_and_renewed_after(tiny_config):
    t = Trainer(tiny_config(strategies="ema:beta=0.5,jacobian-truncation:q=0.1"))
    first = t.eval_generator()
    assert t.eval_generator() is first  # same step, same weights: the same wrapper
    t.train_step()
    assert t.eval_generator() is not first
    state = t.state_dict()
    kept = t.eval_generator()
    t.load_state_dict(state)  # a restore may change the weights at the same step
    assert t.eval_generator() is not kept
