"""The monitor inside the trainer: readings and events in the run directory, stop mode,
the protected healthy checkpoint, resume."""
import re
import json

import pytest

from modeguard.monitor.callback import MonitorCallback, default_monitor_every
from modeguard.train import load_checkpoint
from modeguard.monitor.events import read_events
from modeguard.runs import start_run
from modeguard.train import Trainer

from .helpers import scripted_space


def _cb(collapsed=(), **kw):
    opts = dict(n_samples=300, n_reference=400, warmup=10, stall=1000,
                feature_space=scripted_space(set(collapsed)))
    opts.update(kw)
    return MonitorCallback(**opts)


def test_attached_automatically_when_monitor_every_is_set(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(monitor_every=2), tmp_path / "run")
    monitors = [cb for cb in trainer.callbacks if isinstance(cb, MonitorCallback)]
    assert len(monitors) == 1
    trainer.fit()
    rows = [json.loads(line) for line in (tmp_path / "run" / "monitor.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    assert {"coverage", "density", "diversity", "modes", "d_real_acc", "grad_norm_g", "loss_d"} <= rows[0].keys()
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["monitor"]["checks"] == 3 and saved["monitor"]["feature_space"] == "data values"
    assert not any(isinstance(cb, MonitorCallback) for cb in Trainer(tiny_config()).callbacks)


def test_on_collapse_implies_a_monitor():
    from modeguard.config import TrainConfig

    c = TrainConfig(steps=1000, on_collapse="heal").resolve()
    assert c.monitor_every == 20 == default_monitor_every(1000)
    assert TrainConfig(steps=1000).resolve().monitor_every == 0


def test_events_go_to_the_run_dir_and_the_console(tiny_config, tmp_path, capsys):
    cb = _cb(collapsed=range(4, 30))
    trainer = start_run(tiny_config(steps=40, monitor_every=5, ckpt_every=10), tmp_path / "run", callbacks=[cb])
    trainer.fit()
    events = read_events(tmp_path / "run" / "events.jsonl")
    assert [e.kind for e in events] == ["collapse_suspected", "collapse_confirmed"]
    assert events[1].step == 30 and events[1].since == 20
    printed = capsys.readouterr()
    assert "[collapse_confirmed] step 30" in printed.out + printed.err


def test_stop_mode_stops_and_keeps_checkpoints(tiny_config, tmp_path):
    cb = _cb(collapsed=range(4, 30))
    trainer = start_run(tiny_config(steps=60, monitor_every=5, ckpt_every=10, on_collapse="stop"),
                        tmp_path / "run", callbacks=[cb])
    result = trainer.fit()
    assert re.search("stopped at step 30.*last healthy: step-00000010.pt", result["stopped"])
    assert trainer.should_stop and trainer.stop_kind == "collapse"
    run = trainer.run
    assert [s for s, _ in run.checkpoints()] == [10, 20, 30]
    assert read_events(run.events)[-1].kind == "stopped"
    assert not run.eval_json.exists()


def test_healthy_checkpoint_is_protected_from_pruning(tiny_config, tmp_path):
    # readings every 5 steps; checks 5-7 (steps 25-35) collapse; checkpoints every 10, keep 1
    cb = _cb(collapsed=range(5, 100))
    trainer = start_run(tiny_config(steps=60, monitor_every=5, ckpt_every=10, keep_checkpoints=1),
                        tmp_path / "run", callbacks=[cb])
    trainer.fit()
    steps = [s for s, _ in trainer.run.checkpoints()]
    assert steps == [20, 60]  # 20: the last checkpoint with healthy readings before and after it
    assert cb.anchor_step == 20
    carried = load_checkpoint(trainer.run.checkpoint_path(60))["callbacks"]["MonitorCallback"]
    assert carried["anchor"] == 20 and carried["checks"] == 12


def test_resume_restores_monitor_state(tiny_config, tmp_path):
    cfg = tiny_config(steps=30, monitor_every=5, ckpt_every=10)
    first = start_run(cfg, tmp_path / "run", callbacks=[_cb()])
    first.fit()
    resumed = Trainer.resume(tmp_path / "run", steps=50, callbacks=[_cb()])
    resumed.fit()
    mon = next(cb for cb in resumed.callbacks if isinstance(cb, MonitorCallback))
    assert mon.monitor.best  # learned levels came back from the checkpoint
    rows = [json.loads(line) for line in (tmp_path / "run" / "monitor.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(5, 51, 5))


def test_the_monitor_watches_the_generator_without_sampling_filters(tiny_config, tmp_path, monkeypatch):
    from modeguard.strategies.jacobian_truncation import JacobianTruncation, TruncatedGenerator

    trainer = Trainer(tiny_config(monitor_every=2, strategies="ema,jacobian-truncation:q=0.05"), tmp_path / "run")
    assert isinstance(trainer.eval_generator(), TruncatedGenerator)  # what users draw
    assert not isinstance(trainer.eval_generator(filters=False), TruncatedGenerator)
    filtered = []
    original = JacobianTruncation.eval_generator
    monkeypatch.setattr(JacobianTruncation, "eval_generator",
                        lambda self, ctx, G: filtered.append(ctx.step) or original(self, ctx, G))
    trainer.fit()
    # the checks at steps 2 and 4 drew from the untruncated generator; the final evaluation is the users'
    assert 2 not in filtered and 4 not in filtered and filtered
