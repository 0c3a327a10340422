import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def test_per_net_settings_and_config_defaults(tiny_config):
    trainer = Trainer(tiny_config(strategies="adam:nets=d:beta1=0:beta2=0.9:lr=2e-4", lr_g=3e-4, beta1=0.5))
    d, g = trainer.ctx.opt_d.param_groups[0], trainer.ctx.opt_g.param_groups[0]
    assert (d["lr"], d["betas"]) == (2e-4, (0.0, 0.9))
    assert (g["lr"], g["betas"]) == (3e-4, (0.5, 0.999))


def test_unset_options_take_the_config(tiny_config):
    trainer = Trainer(tiny_config(strategies="adam", lr_g=3e-4, lr_d=5e-4, beta1=0.2, beta2=0.95))
    assert isinstance(trainer.ctx.opt_g, torch.optim.Adam) and trainer.ctx.opt_g.defaults["fused"]
    assert trainer.ctx.opt_g.param_groups[0]["lr"] == 3e-4
    assert trainer.ctx.opt_d.param_groups[0]["lr"] == 5e-4
    assert trainer.ctx.opt_d.param_groups[0]["betas"] == (0.2, 0.95)


@pytest.mark.parametrize("spec, word", [
    ("adam:beta1=1", "beta1"),
    ("adam:beta2=-0.1", "beta2"),
    ("adam:lr=abc", "lr"),
    ("adam:momentum=0.9", "momentum"),
    ("adam:nets=d,sgd", "sgd"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"adam.*{word}"):
        Trainer(tiny_config(strategies=spec))
