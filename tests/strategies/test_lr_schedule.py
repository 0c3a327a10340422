import math

import pytest

from modeguard.errors import ConfigError
from modeguard.remedies import schedule_factor
from modeguard.train import Trainer


def _lrs(trainer, net="d"):
    """The lr of each of the run's updates (read before the update is taken)."""
    opt = lambda: trainer.ctx.opt_d if net == "d" else trainer.ctx.opt_g  # noqa: E731
    out = []
    while trainer.ctx.step < trainer.ctx.total_steps:
        out.append(opt().param_groups[0]["lr"])
        trainer.train_step()
    return out


@pytest.mark.parametrize("kind, step, expected", [
    ("constant", 5, 1.0),
    ("linear", 2, 1.0),                                       # first step after warmup: p = 0
    ("linear", 7, 1.0 - 0.9 * 5 / 8),
    ("linear", 10, 0.1),
    ("linear", 50, 0.1),                                      # past the end: stays at final
    ("cosine", 6, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 4 / 8))),
    ("cosine", 10, 0.1),
    ("step", 4, 1.0), ("step", 5, 0.5), ("step", 8, 0.25), ("step", 50, 0.1),
])
def test_factor_formula(kind, step, expected):
    got = schedule_factor(step, total=10, warmup=2, kind=kind, final=0.1, step_every=3, step_gamma=0.5)
    assert got == pytest.approx(expected)


def test_warmup_is_linear_from_first_step():
    assert [schedule_factor(s, 100, 4, "constant", 0.1, 1, 0.5) for s in range(6)] == [0.25, 0.5, 0.75, 1, 1, 1]


def test_trainer_uses_the_schedule(tiny_config):
    trainer = Trainer(tiny_config(strategies="lr-schedule:warmup=2:kind=linear:final=0.5", lr_d=1e-3, lr_g=2e-3))
    lrs = _lrs(trainer)
    expected = [1e-3 * schedule_factor(s, 6, 2, "linear", 0.5, 1, 0.5) for s in range(6)]
    assert lrs == pytest.approx(expected)
    assert lrs[0] == pytest.approx(5e-4) and lrs[-1] == pytest.approx(1e-3 * (1 - 0.5 * 3 / 4))
    assert trainer.ctx.opt_g.param_groups[0]["initial_lr"] == 2e-3


def test_only_the_listed_net_follows(tiny_config):
    trainer = Trainer(tiny_config(strategies="lr-schedule:warmup=4:nets=g", lr_d=1e-3, lr_g=1e-3))
    assert set(_lrs(trainer, "d")) == {1e-3}
    assert trainer.ctx.opt_g.param_groups[0]["lr"] < 1e-3


@pytest.mark.parametrize("order", ["ttur:lr_d=4e-4,lr-schedule:warmup=2:kind=constant",
                                   "lr-schedule:warmup=2:kind=constant,ttur:lr_d=4e-4"])
def test_composes_with_ttur_in_any_order(tiny_config, order):
    trainer = Trainer(tiny_config(strategies=order))
    assert _lrs(trainer)[:3] == pytest.approx([2e-4, 4e-4, 4e-4])


@pytest.mark.parametrize("spec, word", [
    ("lr-schedule:kind=exponential", "kind"),
    ("lr-schedule:warmup=-1", "warmup"),
    ("lr-schedule:warmup=1.5", "warmup"),
    ("lr-schedule:final=2", "final"),
    ("lr-schedule:nets=x", "nets"),
    ("lr-schedule:gamma=0.5", "gamma"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"lr-schedule.*{word}"):
        Trainer(tiny_config(strategies=spec))
