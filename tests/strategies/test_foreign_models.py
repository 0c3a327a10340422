"""Every strategy on models ModeGuard did not build (plain ``nn.Sequential`` MLPs): it trains
a few steps, or it refuses before training with a one-line ConfigError saying what the
model must provide. Never a silent no-op."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.models import MultiDiscriminator
from modeguard.nn import MinibatchDiscrimination, MinibatchStdDev
from modeguard.strategies import registry
from modeguard.train import Trainer, TrainContext

Z_DIM = 8

#: strategies that need something a plain user model lacks, and the words of their refusal
REFUSED = {
    "batchnorm": "ModeGuard's own models",
    "multi-g": "ModeGuard's own models",
    "pacgan": "accepts a 'pack' option",
    "feature-matching": "features\\(x\\)",
    "minibatch-stddev": "modeguard.nn.MinibatchStdDev",
    "minibatch-disc": "modeguard.nn.MinibatchDiscrimination",
}
#: config changes a strategy needs on its own (not about the models)
CONFIG = {"gp": {"loss": "wgan"}}


def user_generator() -> nn.Module:
    G = nn.Sequential(nn.Linear(Z_DIM, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    G.z_dim = Z_DIM
    return G


def user_discriminator(width_in: int = 2, *layers: nn.Module) -> nn.Module:
    return nn.Sequential(nn.Linear(width_in, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2),
                         *layers, nn.Linear(32 + sum(getattr(m, "extra", 0) for m in layers), 1))


def config(strategies: str, **kw) -> TrainConfig:
    base = dict(data="ring8", strategies=strategies, steps=3, batch_size=32, log_every=1, sample_every=1000,
                ckpt_every=1000, progress=False, eval_samples=64)
    return TrainConfig(**{**base, **kw})


def train_user_models(strategies: str, G: nn.Module, D: nn.Module, steps: int = 3, **kw) -> TrainContext:
    """Train ``steps`` steps of the user's ``G`` / ``D`` with ``strategies``; returns the run's context."""
    trainer = Trainer(config(strategies, steps=steps, **kw), generator=G, discriminator=D)
    for _ in range(steps):
        trainer.train_step()
    return trainer.ctx


FACTORIES = """
from torch import nn


def build(shape, pack=1):
    G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, shape[0]))
    G.z_dim = 8
    D = nn.Sequential(nn.Linear(shape[0] * pack, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    return G, D


def build_without_pack(shape):
    return build(shape)
"""


def train_factory(strategies: str, name: str, tmp_path, steps: int = 3) -> TrainContext:
    """Like :func:`train_user_models` for the factory ``name`` of a user's model file."""
    path = tmp_path / "mine.py"
    path.write_text(FACTORIES)
    trainer = Trainer(config(strategies, steps=steps, model=f"{path}:{name}"))
    for _ in range(steps):
        trainer.train_step()
    return trainer.ctx


def _warm_start_checkpoint(tmp_path) -> str:
    torch.manual_seed(1)
    path = tmp_path / "source.pt"
    torch.save({"step": 0, "G": user_generator().state_dict(), "D": user_discriminator().state_dict()}, path)
    return str(path)


def _spec_for(name: str, tmp_path) -> str:
    return f"warm-start:checkpoint={_warm_start_checkpoint(tmp_path)}" if name == "warm-start" else name


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_strategy_trains_or_refuses_in_one_line(name, tmp_path):
    torch.manual_seed(0)
    G, D = user_generator(), user_discriminator()
    spec = _spec_for(name, tmp_path)
    if name in REFUSED:
        with pytest.raises(ConfigError, match=f"strategy '{name}' needs .*{REFUSED[name]}") as e:
            Trainer(config(spec, **CONFIG.get(name, {})), generator=G, discriminator=D)  # before any step
        assert "\n" not in str(e.value)
        return
    before = _params(G)
    ctx = train_user_models(spec, G, D, **CONFIG.get(name, {}))
    assert ctx.step == 3
    assert not all(torch.equal(a, b) for a, b in zip(before, _params(ctx.G))), "G did not train"
    samples = ctx.G(torch.randn(16, Z_DIM))
    assert samples.shape == (16, 2) and torch.isfinite(samples).all()


# ---- the generic forms do what their strategy claims on a user model
def test_spectral_norm_parametrizes_every_weight_matrix_of_a_user_d():
    ctx = train_user_models("spectral-norm", user_generator(), user_discriminator())
    linears = [m for m in ctx.D.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    for m in linears:
        assert torch.linalg.matrix_norm(m.weight.detach(), 2) == pytest.approx(1.0, abs=0.05)


def test_spectral_norm_refuses_a_d_without_weight_matrices():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(2))

        def forward(self, x):
            return (x * self.scale).sum(1, keepdim=True)

    with pytest.raises(ConfigError, match="spectral-norm.*no layer with a weight matrix"):
        train_user_models("spectral-norm", user_generator(), Scaled())


def test_multi_d_replicates_a_user_d_with_fresh_weights():
    ctx = train_user_models("multi-d:k=3", user_generator(), user_discriminator())
    assert isinstance(ctx.D, MultiDiscriminator) and len(ctx.D.discriminators) == 3
    first = [m.weight for m in ctx.D.discriminators[0].modules() if isinstance(m, nn.Linear)][0]
    second = [m.weight for m in ctx.D.discriminators[1].modules() if isinstance(m, nn.Linear)][0]
    assert not torch.equal(first, second)
    assert ctx.last_d_batch.d_real.shape == (32, 3)


def test_freeze_d_freezes_the_first_layer_of_a_user_d():
    ctx = train_user_models("freeze-d:layers=1", user_generator(), user_discriminator())
    first = ctx.D[0]
    assert not first.weight.requires_grad and ctx.D[2].weight.requires_grad
    assert all(p is not first.weight for g in ctx.opt_d.param_groups for p in g["params"])


def test_ema_of_a_user_g_lags_behind_it():
    ctx = train_user_models("ema:beta=0.9", user_generator(), user_discriminator())
    ema_g = ctx.strategies[0].eval_generator(ctx, ctx.G)
    assert ema_g is not ctx.G
    assert not all(torch.equal(a, b) for a, b in zip(_params(ctx.G), _params(ema_g)))


def test_gp_refuses_a_user_d_with_batchnorm():
    D = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 1))
    with pytest.raises(ConfigError, match="strategy 'gp' needs a discriminator without batch norm"):
        train_user_models("gp", user_generator(), D, loss="wgan")


def test_feature_matching_uses_a_user_d_that_exposes_features():
    class FeaturedD(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2))
            self.head = nn.Linear(32, 1)

        def features(self, x):
            return self.body(x)

        def forward(self, x):
            return self.head(self.body(x))

    ctx = train_user_models("feature-matching", user_generator(), FeaturedD())
    assert float(ctx.stats["feature_matching"]) >= 0


@pytest.mark.parametrize("layer, name", [(MinibatchStdDev(4), "minibatch-stddev"),
                                         (MinibatchDiscrimination(32, 5, 4), "minibatch-disc")])
def test_minibatch_strategies_accept_a_user_d_that_holds_the_layer(layer, name):
    layer.extra = 1 if isinstance(layer, MinibatchStdDev) else 5
    D = user_discriminator(2, layer)
    ctx = train_user_models(name, user_generator(), D)
    assert any(m is layer for m in ctx.D.modules())


def test_pacgan_with_a_factory_that_accepts_pack(tmp_path):
    ctx = train_factory("pacgan:m=4", "build", tmp_path)
    assert ctx.D[0].in_features == 8
    assert ctx.last_d_batch.real_in.shape == (8, 8)


def test_pacgan_refuses_a_factory_without_pack(tmp_path):
    with pytest.raises(ConfigError, match="strategy 'pacgan' needs .*'pack' option"):
        train_factory("pacgan:m=2", "build_without_pack", tmp_path)
