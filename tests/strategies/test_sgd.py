import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def test_d_gets_sgd_with_momentum_and_g_keeps_adam(tiny_config):
    trainer = Trainer(tiny_config(strategies="sgd:momentum=0.8:nesterov=true", lr_d=3e-3))
    opt_d, opt_g = trainer.ctx.opt_d, trainer.ctx.opt_g
    assert type(opt_d) is torch.optim.SGD and isinstance(opt_g, torch.optim.Adam)
    group = opt_d.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["lr"]) == (0.8, True, 3e-3)
    assert sum(len(g["params"]) for g in opt_d.param_groups) == len(list(trainer.ctx.D.parameters()))


def test_one_sgd_step_is_lr_times_gradient(tiny_config):
    trainer = Trainer(tiny_config(strategies="sgd:nets=g+d:lr=0.05:momentum=0"))
    assert type(trainer.ctx.opt_g) is torch.optim.SGD
    before = [p.detach().clone() for p in trainer.ctx.D.parameters()]
    trainer.steps.d_step()
    for p, b in zip(trainer.ctx.D.parameters(), before):
        assert torch.allclose(p, b - 0.05 * p.grad, atol=1e-7)


def test_momentum_buffer_survives_a_resume(tiny_config, tmp_path):
    Trainer(tiny_config(strategies="sgd", steps=2), tmp_path / "run").fit()
    resumed = Trainer.resume(tmp_path / "run")
    bufs = [s["momentum_buffer"] for s in resumed.ctx.opt_d.state.values()]
    assert bufs and all(b is not None and b.abs().sum() > 0 for b in bufs)


@pytest.mark.parametrize("spec, word", [
    ("sgd:momentum=1.5", "momentum"),
    ("sgd:momentum=0:nesterov=true", "nesterov"),
    ("sgd:nesterov=maybe", "nesterov"),
    ("sgd:nets=q", "nets"),
    ("sgd:lr=-0.1", "lr"),
    ("sgd:lr=0", "lr"),
    ("sgd:beta=0.9", "beta"),
    ("sgd:nets=d,rmsprop:nets=g+d", "rmsprop"),   # two optimizers for D
    ("adam:nets=g,sgd:nets=g", "adam"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"sgd.*{word}|{word}.*sgd"):
        Trainer(tiny_config(strategies=spec))


def test_disjoint_optimizer_strategies_compose(tiny_config):
    trainer = Trainer(tiny_config(strategies="sgd:nets=d,rmsprop:nets=g"))
    assert type(trainer.ctx.opt_d) is torch.optim.SGD and type(trainer.ctx.opt_g) is torch.optim.RMSprop
    trainer.fit()
