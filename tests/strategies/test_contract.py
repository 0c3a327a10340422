"""The contract every registered strategy passes: it builds, trains a few CPU steps on
ring8, its state round-trips through a checkpoint and resume (the resumed run ends with
the same weights as an uninterrupted one), and it composes with two others."""
import pytest
import torch

from modeguard.strategies import registry
from modeguard.train import Callback, Interrupted, Trainer

#: strategies that need options to run at all (e.g. a checkpoint to start from)
NEEDS_SETUP = {"warm-start"}
#: partners each strategy is composed with (the first two that are not itself)
PARTNERS = ["ema", "r1", "instance-noise"]


def _names():
    return sorted(n for n in registry() if n not in NEEDS_SETUP)


class _StopAt(Callback):
    """Asks the trainer to stop (as Ctrl-C does) after ``step``."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.ctx.step == self.step:
            trainer.request_stop("test", kind="interrupt")


def _weights(trainer):
    sd = {**{"G." + k: v for k, v in trainer.ctx.G.state_dict().items()},
          **{"D." + k: v for k, v in trainer.ctx.D.state_dict().items()}}
    for s in trainer.ctx.strategies:
        for k, v in s.state_dict().items():
            if isinstance(v, dict):
                sd.update({f"{s.name}.{k}.{kk}": vv for kk, vv in v.items() if torch.is_tensor(vv)})
    return sd


@pytest.mark.parametrize("name", _names())
def test_builds_and_trains(name, tiny_config):
    trainer = Trainer(tiny_config(strategies=name))
    result = trainer.fit()
    assert trainer.ctx.step == 6
    assert result["n"] == 64
    samples = trainer.sample(10, seed=1)
    assert samples.shape == (10, 2)
    assert torch.isfinite(torch.as_tensor(samples)).all()


@pytest.mark.parametrize("name", _names())
def test_resume_matches_uninterrupted(name, tiny_config, tmp_path):
    full = Trainer(tiny_config(strategies=name), tmp_path / "full")
    full.fit()
    # interrupted at step 3 of the same 6-step run (schedules over the run's length stay the same)
    part = Trainer(tiny_config(strategies=name), tmp_path / "part", callbacks=[_StopAt(3)])
    with pytest.raises(Interrupted):
        part.fit()
    resumed = Trainer.resume(tmp_path / "part")
    assert resumed.ctx.step == 3
    resumed.fit()
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{name}: {k} differs after resume"


def _assert_partner_effects(trainer, partners):
    """Each partner still does its job beside the strategy under test."""
    ctx = trainer.ctx
    if "ema" in partners:
        ema_g = trainer.eval_generator()
        assert ema_g is not ctx.G
        assert not all(torch.equal(a, b) for a, b in zip(ema_g.parameters(), ctx.G.parameters()))
    if "r1" in partners:
        assert float(ctx.stats["r1"]) > 0
    if "instance-noise" in partners:
        assert "noise_sigma" in ctx.stats


@pytest.mark.parametrize("name", _names())
def test_composes_with_two_others(name, tiny_config):
    partners = [p for p in PARTNERS if p != name][:2]
    trainer = Trainer(tiny_config(strategies=",".join([name, *partners])))
    trainer.fit()
    assert [s.name for s in trainer.ctx.strategies] == [name, *partners]
    _assert_partner_effects(trainer, partners)
