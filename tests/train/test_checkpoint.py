"""Checkpoints: atomic writes, safe loading, pruning, resume equivalence, Ctrl-C and divergence."""
import importlib
import json
import os
import signal

import pytest
import torch

from modeguard.errors import CheckpointError, DivergenceError
from modeguard.train import Callback, Interrupted, RunDir, Trainer, load_checkpoint, save_checkpoint
from modeguard.train.checkpoint import same_state

#: columns that measure the wall clock, not the training
TIMING = {"steps_per_s", "time_s"}


class AtStep(Callback):
    """Calls ``action(trainer)`` at the end of step ``step``."""

    def __init__(self, step, action):
        self.step, self.action = step, action

    def on_step_end(self, trainer):
        if trainer.ctx.step == self.step:
            self.action(trainer)


def weights(trainer) -> dict:
    return {**{"G." + k: v for k, v in trainer.ctx.G.state_dict().items()},
            **{"D." + k: v for k, v in trainer.ctx.D.state_dict().items()}}


def assert_same_weights(a: Trainer, b: Trainer) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def rows(path, drop=TIMING) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in path.read_text().splitlines()]


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ---------------------------------------------------------------- atomic writes and safe loading
def test_save_and_load_round_trip(tmp_path):
    path = tmp_path / "ckpt" / "step-00000001.pt"
    state = {"step": 1, "G": {"w": torch.arange(3.0)}, "meta": [1, "a", 2.5]}
    save_checkpoint(path, state)
    back = load_checkpoint(path)
    assert back["step"] == 1 and torch.equal(back["G"]["w"], torch.arange(3.0)) and back["meta"] == [1, "a", 2.5]
    assert no_temp_files(path.parent)


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "step-00000002.pt"
    save_checkpoint(path, {"step": 2, "G": {"w": torch.ones(4)}})
    before = path.read_bytes()
    real_save = torch.save

    def save_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # a full file's worth of bytes reaches the temp file ...
        f.write(b"\0" * 10)
        raise OSError("No space left on device")  # ... then the disk fills up

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"step": 3, "G": {"w": torch.zeros(4)}})
    assert path.read_bytes() == before
    assert torch.equal(load_checkpoint(path)["G"]["w"], torch.ones(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_interrupted_write_of_a_new_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    def fail(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "step-00000001.pt", {"step": 1, "G": {}})
    assert list(tmp_path.iterdir()) == []


def test_load_uses_weights_only(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 0, "G": {}})
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_checkpoint(path)
    assert seen.get("weights_only") is True


class Payload:
    """Any class: a weights-only load must refuse to build it."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"step": 1, "G": {}, "x": Payload()}, path)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "not-a-checkpoint", "missing"])
def test_damaged_checkpoint_is_a_one_line_checkpoint_error(tmp_path, damage):
    good = tmp_path / "good.pt"
    save_checkpoint(good, {"step": 5, "G": {"w": torch.randn(100, 100)}})
    bad = tmp_path / "bad.pt"
    if damage == "truncated":
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "garbage":
        bad.write_bytes(os.urandom(4096))
    elif damage == "empty":
        bad.write_bytes(b"")
    elif damage == "not-a-checkpoint":
        torch.save([1, 2, 3], bad)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and len(msg) < 300


# ---------------------------------------------------------------- the run directory
def test_keep_last_k_checkpoints(tmp_path, tiny_config):
    t = Trainer(tiny_config(steps=5, ckpt_every=1, keep_checkpoints=2), tmp_path / "run")
    t.fit()
    run = RunDir(tmp_path / "run")
    assert [s for s, _ in run.checkpoints()] == [4, 5]
    assert run.latest_checkpoint().name == "step-00000005.pt"
    assert no_temp_files(run.checkpoint_dir)


def test_pruning_spares_protected_checkpoints(tmp_path, tiny_config):
    class KeepFirst(Callback):
        def protected_checkpoints(self, trainer):
            return {RunDir(trainer.run.path).checkpoint_path(1)}

    Trainer(tiny_config(steps=6, ckpt_every=1, keep_checkpoints=1), tmp_path / "run", callbacks=[KeepFirst()]).fit()
    assert [s for s, _ in RunDir(tmp_path / "run").checkpoints()] == [1, 6]


def test_run_directory_contents(tmp_path, tiny_config):
    Trainer(tiny_config(steps=6, sample_every=3), tmp_path / "run").fit()
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.jsonl", "eval.json", "final_samples.png", "evals.jsonl"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000003.png", "step-00000006.png"]
    assert [r["step"] for r in rows(run / "metrics.jsonl")] == [2, 4, 6]
    assert json.loads((run / "eval.json").read_text())["modes"] >= 0


# ---------------------------------------------------------------- resume equivalence
def _uninterrupted(tmp_path, config):
    t = Trainer(config, tmp_path / "full")
    t.fit()
    return t


@pytest.mark.parametrize("stop_at", [3, 4])  # on a checkpoint step and between checkpoints
def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny_config, stop_at):
    config = tiny_config(steps=8, ckpt_every=3, log_every=1, sample_every=2)
    full = _uninterrupted(tmp_path, config)

    stop = AtStep(stop_at, lambda tr: tr.request_stop("test", kind="interrupt"))
    with pytest.raises(Interrupted, match=f"step {stop_at}"):
        Trainer(config, tmp_path / "part", callbacks=[stop]).fit()
    assert RunDir(tmp_path / "part").latest_checkpoint().name == f"step-{stop_at:08d}.pt"

    resumed = Trainer.resume(tmp_path / "part")
    assert resumed.ctx.step == stop_at
    resumed.fit()
    assert resumed.ctx.step == 8
    assert_same_weights(full, resumed)
    for name in ("metrics.jsonl", "evals.jsonl"):
        assert rows(tmp_path / "part" / name) == rows(tmp_path / "full" / name), name
    assert json.loads((tmp_path / "part" / "eval.json").read_text()) == \
        json.loads((tmp_path / "full" / "eval.json").read_text())
    assert torch.equal(torch.as_tensor(full.sample(50, seed=1)), torch.as_tensor(resumed.sample(50, seed=1)))


def test_resume_drops_rows_logged_after_the_checkpoint(tmp_path, tiny_config):
    """A crash (no Ctrl-C checkpoint) after step 5: the resume restarts from step 3's checkpoint."""
    config = tiny_config(steps=8, ckpt_every=3, log_every=1)
    full = _uninterrupted(tmp_path, config)

    def crash(tr):
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        Trainer(config, tmp_path / "part", callbacks=[AtStep(5, crash)]).fit()
    assert [r["step"] for r in rows(tmp_path / "part" / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    resumed = Trainer.resume(tmp_path / "part")
    assert resumed.ctx.step == 3
    assert [r["step"] for r in rows(tmp_path / "part" / "metrics.jsonl")] == [1, 2, 3]
    resumed.fit()
    assert_same_weights(full, resumed)
    assert rows(tmp_path / "part" / "metrics.jsonl") == rows(tmp_path / "full" / "metrics.jsonl")


def test_resume_can_extend_a_finished_run(tmp_path, tiny_config):
    longer = _uninterrupted(tmp_path, tiny_config(steps=9, ckpt_every=3))
    Trainer(tiny_config(steps=6, ckpt_every=3), tmp_path / "part").fit()
    resumed = Trainer.resume(tmp_path / "part", steps=9)
    resumed.fit()
    assert resumed.ctx.step == 9
    assert_same_weights(longer, resumed)


def test_steps_per_second_after_resume_counts_only_new_steps(tmp_path, tiny_config, monkeypatch):
    clock = {"t": 0.0}  # a clock that advances one second per training step

    class FakeTime:
        @staticmethod
        def perf_counter():
            return clock["t"]

    monkeypatch.setattr(importlib.import_module("modeguard.train.metrics_log"), "time", FakeTime)
    train_step = Trainer.train_step

    def ticking_step(self):
        clock["t"] += 1.0
        train_step(self)

    monkeypatch.setattr(Trainer, "train_step", ticking_step)
    config = tiny_config(steps=8, ckpt_every=4, log_every=2)
    stop = AtStep(4, lambda tr: tr.request_stop("test", kind="interrupt"))
    with pytest.raises(Interrupted):
        Trainer(config, tmp_path / "run", callbacks=[stop]).fit()
    clock["t"] += 100.0  # the time between the interruption and the resume is not training time
    Trainer.resume(tmp_path / "run").fit()
    rates = {r["step"]: r["steps_per_s"] for r in rows(tmp_path / "run" / "metrics.jsonl", drop=())}
    assert rates == {2: 1.0, 4: 1.0, 6: 1.0, 8: 1.0}


def test_resume_of_a_damaged_latest_checkpoint_falls_back_to_the_older_one(tmp_path, tiny_config):
    Trainer(tiny_config(steps=6, ckpt_every=3), tmp_path / "run").fit()
    run = RunDir(tmp_path / "run")
    older = run.checkpoint_path(3).read_bytes()
    latest = run.checkpoint_path(6)
    latest.write_bytes(latest.read_bytes()[:100])
    resumed = Trainer.resume(run.path)
    assert resumed.ctx.step == 3
    assert len(resumed.notes) == 1 and "step-00000006.pt" in resumed.notes[0]
    assert run.checkpoint_path(3).read_bytes() == older
    assert latest.stat().st_size == 100  # the damaged file is kept for inspection


def test_resume_with_every_checkpoint_damaged_is_a_checkpoint_error(tmp_path, tiny_config):
    Trainer(tiny_config(steps=6, ckpt_every=3), tmp_path / "run").fit()
    run = RunDir(tmp_path / "run")
    for _, path in run.checkpoints():
        path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="step-00000006.pt"):
        Trainer.resume(run.path)


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path, tiny_config):
    Trainer(tiny_config(steps=6, ckpt_every=3), tmp_path / "run").fit()
    run = RunDir(tmp_path / "run")
    for _, path in run.checkpoints():
        path.unlink()
    resumed = Trainer.resume(run.path)
    assert resumed.ctx.step == 0
    resumed.fit()
    assert [s for s, _ in run.checkpoints()] == [3, 6]


def test_checkpoint_of_other_models_is_a_checkpoint_error(tmp_path, tiny_config):
    Trainer(tiny_config(), tmp_path / "small").fit()
    other = Trainer(tiny_config(model_options={"g_hidden": [8], "d_hidden": [8], "z_dim": 4}), tmp_path / "other")
    with pytest.raises(CheckpointError, match="does not match"):
        other.load_state_dict(load_checkpoint(RunDir(tmp_path / "small").latest_checkpoint()))


# ---------------------------------------------------------------- Ctrl-C
def test_sigint_saves_a_checkpoint_raises_interrupted_and_resume_continues(tmp_path, tiny_config):
    config = tiny_config(steps=8, ckpt_every=100, log_every=1)
    full = _uninterrupted(tmp_path, config)
    handler_before = signal.getsignal(signal.SIGINT)

    ctrl_c = AtStep(5, lambda tr: os.kill(os.getpid(), signal.SIGINT))
    with pytest.raises(Interrupted, match="step 5"):
        Trainer(config, tmp_path / "part", callbacks=[ctrl_c]).fit()
    assert signal.getsignal(signal.SIGINT) is handler_before
    run = RunDir(tmp_path / "part")
    assert [s for s, _ in run.checkpoints()] == [5]  # ckpt_every=100: only Ctrl-C's checkpoint

    resumed = Trainer.resume(run.path)
    assert resumed.ctx.step == 5
    resumed.fit()
    assert_same_weights(full, resumed)
    assert rows(run.metrics) == rows(tmp_path / "full" / "metrics.jsonl")


def test_second_sigint_stops_at_once(tmp_path, tiny_config):
    def twice(tr):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted, match="interrupted twice at step 2"):
        Trainer(tiny_config(steps=8), tmp_path / "run", callbacks=[AtStep(2, twice)]).fit()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_a_checkpoint_like_ctrl_c(tmp_path, tiny_config, signum):
    config = tiny_config(steps=8, ckpt_every=100)
    with pytest.raises(Interrupted, match=f"step 3 .*{signal.Signals(signum).name}"):
        Trainer(config, tmp_path / "run", callbacks=[AtStep(3, lambda tr: os.kill(os.getpid(), signum))]).fit()
    assert [s for s, _ in RunDir(tmp_path / "run").checkpoints()] == [3]
    assert signal.getsignal(signum) is not None  # the previous handler is back


def test_a_signal_during_the_checkpoint_write_waits_for_it(tmp_path, tiny_config, monkeypatch):
    import modeguard.train.trainer as trainer_module

    real_save = trainer_module.save_checkpoint

    def save_and_signal(path, state):
        os.kill(os.getpid(), signal.SIGINT)  # arrives mid-write
        os.kill(os.getpid(), signal.SIGINT)
        real_save(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save_and_signal)
    with pytest.raises(Interrupted):
        Trainer(tiny_config(steps=8, ckpt_every=2), tmp_path / "run").fit()
    path = RunDir(tmp_path / "run").checkpoint_path(2)
    assert load_checkpoint(path)["step"] == 2  # written whole


# ---------------------------------------------------------------- divergence
def _poison_loss_from(trainer, step):
    """From ``step`` on, D's loss is NaN (as an exploding run would produce)."""
    ctx = trainer.ctx
    original = ctx.objective.d_loss

    def d_loss(c, batch):
        loss = original(c, batch)
        return loss * float("nan") if c.step + 1 >= step else loss

    ctx.objective.d_loss = d_loss


def test_non_finite_loss_stops_with_divergence_error_keeping_the_last_good_checkpoint(tmp_path, tiny_config):
    t = Trainer(tiny_config(steps=12, ckpt_every=2, keep_checkpoints=5), tmp_path / "run")
    _poison_loss_from(t, 5)
    with pytest.raises(DivergenceError) as e:
        t.fit()
    msg = str(e.value)
    # the device-side flag is read at log and checkpoint steps: here the checkpoint at 6
    assert "by step 6" in msg and "step-00000004.pt" in msg and "\n" not in msg
    run = RunDir(tmp_path / "run")
    assert [s for s, _ in run.checkpoints()] == [2, 4]
    state = load_checkpoint(run.latest_checkpoint())
    assert all(torch.isfinite(v).all() for part in ("G", "D") for v in state[part].values())
    assert not (run.path / "eval.json").exists()


def test_non_finite_weights_are_never_checkpointed(tmp_path, tiny_config):
    """Weights can turn NaN in a step whose loss was still finite: that step's checkpoint is refused."""
    t = Trainer(tiny_config(steps=12, ckpt_every=2, keep_checkpoints=5), tmp_path / "run")
    opt_step = t.ctx.opt_g.step

    def step_then_blow_up(*args, **kwargs):
        out = opt_step(*args, **kwargs)
        if t.ctx.step + 1 == 4:
            with torch.no_grad():
                next(t.ctx.G.parameters()).fill_(float("inf"))
        return out

    t.ctx.opt_g.step = step_then_blow_up
    with pytest.raises(DivergenceError, match="step-00000002.pt"):
        t.fit()
    run = RunDir(tmp_path / "run")
    assert [s for s, _ in run.checkpoints()] == [2]
    assert no_temp_files(run.checkpoint_dir)
    Trainer.resume(run.path)  # the kept checkpoint is loadable


def test_divergence_without_a_run_directory(tiny_config):
    t = Trainer(tiny_config(steps=6))
    _poison_loss_from(t, 2)
    with pytest.raises(DivergenceError, match="diverged by step 2"):  # read at the first log step
        t.fit()


def test_same_state_needs_every_bit_and_every_key():
    a = {"G": {"w": torch.ones(3)}, "rng": [1, (2, 3)], "step": 5}
    assert same_state(a, {"G": {"w": torch.ones(3)}, "rng": [1, (2, 3)], "step": 5})
    assert not same_state(a, {"G": {"w": torch.ones(3) + 1e-7}, "rng": [1, (2, 3)], "step": 5})
    assert not same_state(a, {"G": {"w": torch.ones(3)}, "rng": [1, (2, 4)], "step": 5})
    assert not same_state(a, {"G": {"w": torch.ones(3)}, "rng": [1, (2, 3)]})
    assert not same_state(torch.ones(1), 1.0)  # a tensor never equals a scalar
