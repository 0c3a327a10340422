import pytest
from torch import nn

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _count(module):
    return sum(isinstance(m, nn.BatchNorm1d) for m in module.modules())


def test_g_gets_one_batchnorm_per_hidden_layer(tiny_config):
    trainer = Trainer(tiny_config(strategies="batchnorm"))
    assert _count(trainer.ctx.G) == 2 and _count(trainer.ctx.D) == 0
    trainer.fit()
    bn = next(m for m in trainer.ctx.G.modules() if isinstance(m, nn.BatchNorm1d))
    assert int(bn.num_batches_tracked) > 0  # the running statistics were updated in training


def test_both_nets(tiny_config):
    trainer = Trainer(tiny_config(strategies="batchnorm:nets=g+d"))
    assert _count(trainer.ctx.G) == 2 and _count(trainer.ctx.D) == 2


@pytest.mark.parametrize("spec, word", [("batchnorm:nets=e", "nets"), ("batchnorm:momentum=0.1", "momentum")])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"batchnorm.*{word}"):
        Trainer(tiny_config(strategies=spec))
