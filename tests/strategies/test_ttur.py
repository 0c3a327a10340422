import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _lr(opt):
    return {g["lr"] for g in opt.param_groups}


def test_optimizers_carry_the_two_rates(tiny_config):
    trainer = Trainer(tiny_config(strategies="ttur"))
    assert _lr(trainer.ctx.opt_g) == {1e-4} and _lr(trainer.ctx.opt_d) == {4e-4}
    trainer.fit()
    assert _lr(trainer.ctx.opt_g) == {1e-4} and _lr(trainer.ctx.opt_d) == {4e-4}


def test_rates_apply_to_an_optimizer_strategy_listed_after_it(tiny_config):
    trainer = Trainer(tiny_config(strategies="ttur:lr_g=2e-4:lr_d=8e-4,sgd:nets=d"))
    assert isinstance(trainer.ctx.opt_d, torch.optim.SGD)
    assert _lr(trainer.ctx.opt_d) == {8e-4} and _lr(trainer.ctx.opt_g) == {2e-4}


@pytest.mark.parametrize("spec, word", [
    ("ttur:lr_g=0", "lr_g"),
    ("ttur:lr_d=-1", "lr_d"),
    ("ttur:lr_d=fast", "lr_d"),
    ("ttur:lr=1e-4", "lr"),
    ("ttur,sgd:lr=0.01", "sgd:lr"),   # two places set D's rate
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"ttur.*{word}"):
        Trainer(tiny_config(strategies=spec))
