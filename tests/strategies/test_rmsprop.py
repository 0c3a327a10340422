import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def test_both_nets_get_rmsprop_with_alpha(tiny_config):
    trainer = Trainer(tiny_config(strategies="rmsprop:alpha=0.9", lr_g=1e-4, lr_d=5e-5))
    for opt, lr in ((trainer.ctx.opt_g, 1e-4), (trainer.ctx.opt_d, 5e-5)):
        assert type(opt) is torch.optim.RMSprop
        assert (opt.param_groups[0]["alpha"], opt.param_groups[0]["lr"]) == (0.9, lr)
    trainer.fit()
    square_avg = [s["square_avg"] for s in trainer.ctx.opt_d.state.values()]
    assert square_avg and all(torch.isfinite(s).all() and s.sum() > 0 for s in square_avg)


@pytest.mark.parametrize("spec, word", [
    ("rmsprop:alpha=1.5", "alpha"),
    ("rmsprop:alpha=x", "alpha"),
    ("rmsprop:momentum=0.5", "momentum"),
    ("rmsprop:nets=g+x", "nets"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"rmsprop.*{word}"):
        Trainer(tiny_config(strategies=spec))
