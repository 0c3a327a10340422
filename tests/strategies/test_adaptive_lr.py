import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Callback, Interrupted, Trainer


def _force_d(trainer, logit):
    """D calls everything real (logit > 0) or fake (< 0), whatever it learns in a few steps."""
    head = trainer.ctx.D.head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(logit)


def _lr(opt):
    return opt.param_groups[0]["lr"]


def test_a_perfect_d_gets_a_lower_lr(tiny_config):
    trainer = Trainer(tiny_config(strategies="adaptive-lr:interval=2:factor=2:min_scale=0.3", steps=6,
                                  lr_d=1e-3, lr_g=1e-3))
    _force_d(trainer, 100.0)
    lrs = []
    for _ in range(6):
        trainer.train_step()
        lrs.append(_lr(trainer.ctx.opt_d))
    assert lrs == pytest.approx([1e-3, 5e-4, 5e-4, 3e-4, 3e-4, 3e-4])  # halved every 2 steps, floor 0.3
    assert _lr(trainer.ctx.opt_g) == 1e-3
    assert trainer.ctx.stats["lr_scale_d"] == pytest.approx(0.3)
    assert trainer.ctx.stats["d_real_acc_avg"] == 1.0


def test_a_losing_d_gets_a_higher_lr_and_g_a_lower_one(tiny_config):
    spec = "adaptive-lr:interval=3:nets=g+d:factor=1.5:max_scale=4"
    trainer = Trainer(tiny_config(strategies=spec, lr_d=1e-3, lr_g=1e-3))
    _force_d(trainer, -100.0)
    trainer.fit()
    assert _lr(trainer.ctx.opt_d) == pytest.approx(1e-3 * 1.5 ** 2)
    assert _lr(trainer.ctx.opt_g) == pytest.approx(1e-3 / 1.5 ** 2)


def test_no_change_inside_the_band(tiny_config):
    trainer = Trainer(tiny_config(strategies="adaptive-lr:interval=1:target=0.5:margin=0.5", lr_d=1e-3))
    trainer.fit()
    assert _lr(trainer.ctx.opt_d) == 1e-3


def test_scales_multiply_ttur_base_rates(tiny_config):
    trainer = Trainer(tiny_config(strategies="adaptive-lr:interval=2:factor=2,ttur"))
    _force_d(trainer, 100.0)
    trainer.fit()
    assert _lr(trainer.ctx.opt_d) == pytest.approx(4e-4 / 8)
    assert trainer.ctx.opt_d.param_groups[0]["initial_lr"] == 4e-4


class _StopAt(Callback):
    def on_step_end(self, trainer):
        if trainer.ctx.step == 3:
            trainer.request_stop("test", kind="interrupt")


def test_half_measured_interval_survives_a_resume(tiny_config, tmp_path):
    spec = "adaptive-lr:interval=4:factor=2:target=0.6:margin=0"
    full = Trainer(tiny_config(strategies=spec, lr_d=1e-2), tmp_path / "full")
    full.fit()
    part = Trainer(tiny_config(strategies=spec, lr_d=1e-2), tmp_path / "part", callbacks=[_StopAt()])
    with pytest.raises(Interrupted):
        part.fit()
    resumed = Trainer.resume(tmp_path / "part")
    assert resumed.ctx.strategies[0].state_dict()["acc_count"] == 3
    resumed.fit()
    assert full.ctx.strategies[0].scales == resumed.ctx.strategies[0].scales != {"g": 1.0, "d": 1.0}
    assert _lr(full.ctx.opt_d) == _lr(resumed.ctx.opt_d)


@pytest.mark.parametrize("spec, word", [
    ("adaptive-lr:interval=0", "interval"),
    ("adaptive-lr:factor=0.5", "factor"),
    ("adaptive-lr:target=2", "target"),
    ("adaptive-lr:min_scale=2", "min_scale"),
    ("adaptive-lr:max_scale=0.5", "max_scale"),
    ("adaptive-lr:gain=2", "gain"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"adaptive-lr.*{word}"):
        Trainer(tiny_config(strategies=spec))
