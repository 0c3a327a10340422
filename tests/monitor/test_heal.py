"""Healing: rollback to the healthy checkpoint, ladder escalation, bookkeeping, budget."""
import json

import pytest
import torch

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.monitor.callback import MonitorCallback
from modeguard.monitor.events import read_events
from modeguard.monitor.heal import DEFAULT_LADDER, Rung, heal_loop, parse_ladder, transplant
from modeguard.recipes import TRUNCATED_POINT_RECIPE
from modeguard.runs import start_run
from modeguard.train import Trainer, load_checkpoint

from .helpers import scripted_space


def _heal_run(tiny_config, tmp_path, collapsed, stall=1000, **kw):
    opts = dict(steps=60, monitor_every=5, ckpt_every=10, sample_every=20, on_collapse="heal", lr_g=1e-4, lr_d=1e-4)
    opts.update(kw)
    cb = MonitorCallback(n_samples=300, n_reference=400, warmup=10, stall=stall,
                         feature_space=scripted_space(set(collapsed)))
    trainer = start_run(tiny_config(**opts), tmp_path / "run", callbacks=[cb])
    return heal_loop(trainer, echo=False)


def test_heal_rolls_back_adds_a_strategy_and_finishes(tiny_config, tmp_path):
    # fake-feature checks 7-9 (steps 35-45) look collapsed: confirmed at 45, healthy checkpoint 30
    trainer, result = _heal_run(tiny_config, tmp_path, range(7, 10), heal_ladder=["instance-noise:anneal=1", "lr_g*0.5"])
    run = tmp_path / "run"
    assert trainer.ctx.step == 60 and result["n"] == 64
    heals = [e for e in read_events(run / "events.jsonl") if e.kind == "heal"]
    assert len(heals) == 1
    h = heals[0]
    assert h.step == 30 and h.details["rolled_back_to"] == 30 and h.details["cause_step"] == 45
    assert h.details["action"] == "instance-noise:anneal=1" and "collapse confirmed" in h.message
    assert h.evidence[0].figure == "modes"
    # the amended config is the run's config; the first one is kept
    assert TrainConfig.load(run / "config.yaml").strategies == ["instance-noise:anneal=1.0"]
    assert TrainConfig.load(run / "config.original.yaml").strategies == []
    assert [s.name for s in trainer.ctx.strategies] == ["instance-noise"]
    # the collapsed branch is archived, not lost; the main logs hold one timeline
    archived = [json.loads(x) for x in (run / "abandoned/heal-1/monitor.jsonl").read_text().splitlines()]
    assert [r["step"] for r in archived] == [35, 40, 45]
    assert (run / "abandoned/heal-1/checkpoints/step-00000040.pt").is_file()
    main = [json.loads(x) for x in (run / "monitor.jsonl").read_text().splitlines()]
    assert [r["step"] for r in main] == list(range(5, 61, 5))
    assert [r["branch"] for r in main] == [0] * 6 + [1] * 6
    kinds = [e.kind for e in read_events(run / "abandoned/heal-1/events.jsonl")]
    assert kinds == ["collapse_suspected", "collapse_confirmed"]
    saved = json.loads((run / "eval.json").read_text())
    assert saved["heals"][0]["rolled_back_to"] == 30 and saved["strategies"] == ["instance-noise:anneal=1.0"]
    # the run still opens, samples and resumes with its amended config
    reopened = Trainer.open(run, progress=False)
    assert reopened.sample(5).shape == (5, 2)
    assert [s.name for s in reopened.ctx.strategies] == ["instance-noise"]


def test_no_healthy_checkpoint_restarts_from_zero(tiny_config, tmp_path):
    # collapsed from the first judged check on (stuck below all modes): nothing to roll back to
    trainer, _ = _heal_run(tiny_config, tmp_path, range(2, 5), stall=0, steps=40, heal_ladder="lr_g*0.5")
    heal = next(e for e in read_events(tmp_path / "run/events.jsonl") if e.kind == "heal")
    assert heal.step == 0 and heal.details["restarted"]
    assert trainer.config.lr_g == pytest.approx(0.5e-4)
    assert trainer.ctx.opt_g.param_groups[0]["lr"] == pytest.approx(0.5e-4)
    assert trainer.ctx.step == 40


def test_budget_is_bounded_and_the_run_goes_on(tiny_config, tmp_path):
    # collapsed on every check after the 2nd: heals once, then only reports
    trainer, result = _heal_run(tiny_config, tmp_path, range(3, 1000), max_heals=1,
                                heal_ladder=["lr_g*0.5", "lr_d*0.5"])
    heals = [e for e in read_events(tmp_path / "run/events.jsonl") if e.kind == "heal"]
    assert [h.details["heal"] for h in heals] == [1, None]
    assert heals[1].details["exhausted"] and "budget" in heals[1].message
    assert trainer.ctx.step == 60 and "heals" in json.loads((tmp_path / "run/eval.json").read_text())


def test_divergence_is_healed(tiny_config, tmp_path, monkeypatch):
    original = Trainer.train_step

    def flaky(self):  # the first branch blows up at step 33
        original(self)
        if self.ctx.step == 33 and not self.run.heals.exists():
            with torch.no_grad():  # poison G: the next step's losses are NaN
                next(self.ctx.G.parameters()).fill_(float("nan"))

    monkeypatch.setattr(Trainer, "train_step", flaky)
    trainer, _ = _heal_run(tiny_config, tmp_path, (), heal_ladder=["lr_g*0.5"])
    heal = next(e for e in read_events(tmp_path / "run/events.jsonl") if e.kind == "heal")
    assert heal.details["cause"] == "diverged" and heal.details["rolled_back_to"] == 30
    assert trainer.ctx.step == 60


def test_ladder_rungs():
    recipe = TrainConfig(data="grid25", strategies=["r1:gamma=0.1", "ema"])
    cfg, what = Rung("r1.gamma*10").apply(recipe)
    assert cfg.strategies == ["r1", "ema"] and "gamma 0.1 -> 1" in what  # gamma 1 is r1's default
    cfg, what = Rung("r1.gamma*10").apply(TrainConfig(strategies="none"))
    assert cfg.strategies == ["r1"] and what == "added r1"
    cfg, what = Rung("instance-noise:anneal=1").apply(recipe)
    assert cfg.strategies[-1] == "instance-noise:anneal=1.0"
    assert Rung("ema").apply(recipe) is None  # nothing to change
    assert Rung("r1:gamma=0.1").apply(recipe) is None
    cfg, what = Rung("r1:gamma=1").apply(recipe)
    assert cfg.strategies[0] == "r1" and "gamma 0.1 -> 1" in what
    cfg, what = Rung("lr_g*0.5").apply(recipe)
    assert cfg.lr_g == pytest.approx(0.5 * recipe.for_kind("points").lr_g) and what.startswith("lr_g")
    cfg, _ = Rung("lr_g*0.5").apply(TrainConfig(lr_g=1e-4))
    assert cfg.lr_g == pytest.approx(5e-5)
    assert parse_ladder("instance-noise:sigma=0.2,anneal=1,lr_g*0.5") == [
        Rung("instance-noise:sigma=0.2:anneal=1"), Rung("lr_g*0.5")]
    for bad, match in [("nope", "unknown strategy"), ("r1.nope*2", "no numeric option"), ("seed*2", "only"),
                       ("lr_g*x", "number"), ("lr_g*-1", "positive")]:
        with pytest.raises(ConfigError, match=match):
            parse_ladder([bad])
    assert [r.text for r in parse_ladder(None)] == [r for r in DEFAULT_LADDER]
    from modeguard.config import DEFAULT_RECIPE

    cfg, what = Rung("recipe").apply(TrainConfig(strategies="none"))
    assert [s.split(":")[0] for s in cfg.strategies] == [s.split(":")[0] for s in DEFAULT_RECIPE]
    assert what.startswith("added ")
    assert Rung("recipe").apply(TrainConfig()) is None  # the run already has the recipe


def test_transplant_into_a_wider_discriminator_keeps_g(tiny_config, tmp_path):
    before = Trainer(tiny_config(steps=4), tmp_path / "a")
    before.fit()
    state = load_checkpoint(before.run.latest_checkpoint())
    after = Trainer(tiny_config(steps=8, strategies="pacgan", lr_g=5e-5))
    notes = transplant(after, state)
    assert any("D started fresh" in n for n in notes)
    for k, v in state["G"].items():
        assert torch.equal(after.ctx.G.state_dict()[k], v)
    assert after.ctx.step == 4
    assert after.ctx.opt_g.param_groups[0]["lr"] == pytest.approx(5e-5)
    after.fit()
    assert after.ctx.step == 8


def test_rung_spells_out_the_data_sets_own_recipe():
    """An unbuilt config's ``default`` expands as training expands it: ring8's recipe samples
    through jacobian-truncation, as `modeguard train --data ring8` does."""
    cfg, _ = Rung("lr_g*0.5").apply(TrainConfig(data="ring8"))
    assert cfg.strategies == TRUNCATED_POINT_RECIPE == TrainConfig(data="ring8").for_kind("points").strategies
