"""The trainer: its phase table, the sync-free step, stopping, callback state in checkpoints,
and the user's own models and data."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from modeguard import TrainConfig
from modeguard.errors import ConfigError
from modeguard.monitor.callback import MonitorCallback
from modeguard.strategies import parse_strategies
from modeguard.train import COLLAPSE, Callback, PhaseTable, Step, Trainer, load_checkpoint


def test_the_phase_table_holds_only_the_hooks_a_strategy_overrides():
    r1, ema, noise = parse_strategies("r1,ema,instance-noise")
    table = PhaseTable.build([r1, ema, noise])
    owners = lambda hooks: [h.__self__.name for h in hooks]  # noqa: E731
    assert owners(table.d_loss) == ["r1"]
    assert owners(table.d_inputs) == ["instance-noise"]
    assert "ema" in owners(table.after_step) and "r1" not in owners(table.after_step)
    assert table.g_step == []


class _NoHostReads:
    """Within the block, reading a tensor back to the host raises."""

    NAMES = ("item", "__bool__", "__float__", "__int__", "tolist", "numpy")

    def __enter__(self):
        self.saved = {n: getattr(torch.Tensor, n) for n in self.NAMES}

        def refuse(*args, **kwargs):
            raise AssertionError("a host-device sync inside the step")

        for n in self.NAMES:
            setattr(torch.Tensor, n, refuse)
        return self

    def __exit__(self, *exc):
        for n, f in self.saved.items():
            setattr(torch.Tensor, n, f)


@pytest.mark.parametrize("strategies", ["none", "default", "r1:every=2,ema,lr-schedule,instance-noise"])
def test_a_step_reads_nothing_back_from_the_device(tiny_config, strategies):
    trainer = Trainer(tiny_config(strategies=strategies, steps=6))
    trainer.train_step()  # first-step set-up (optimizer state) may read
    with _NoHostReads():
        for _ in range(3):
            trainer.train_step()
    assert trainer.ctx.step == 4 and not trainer.steps.diverged()


def test_a_non_finite_loss_raises_the_device_flag(tiny_config):
    trainer = Trainer(tiny_config())
    trainer.train_step()
    assert not trainer.steps.diverged()
    with torch.no_grad():
        next(trainer.ctx.G.parameters()).fill_(float("nan"))
    trainer.train_step()
    assert trainer.steps.diverged()
    trainer.steps.clear_flag()
    assert not trainer.steps.diverged()


def test_d_accuracy_in_the_log_rows_matches_the_last_batch(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(steps=2, log_every=1), tmp_path / "run")
    trainer.fit()
    b = trainer.ctx.last_d_batch
    real_acc = float((b.d_real.reshape(len(b.d_real), -1).mean(1) > 0).float().mean())
    assert trainer.steps.d_accuracy()[0] == pytest.approx(real_acc)


class _StopAt(Callback):
    def __init__(self, step, kind):
        self.step, self.kind = step, kind

    def on_step_end(self, trainer):
        if trainer.ctx.step == self.step:
            trainer.request_stop(f"asked at {self.step}", kind=self.kind)


def test_request_stop_ends_fit_with_the_reason(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(steps=20), tmp_path / "run", callbacks=[_StopAt(5, COLLAPSE)])
    result = trainer.fit()
    assert result == {"stopped": "asked at 5", "stop_kind": COLLAPSE, "step": 5}
    assert trainer.should_stop and trainer.ctx.step == 5
    assert not trainer.run.eval_json.exists()  # a stopped run is not evaluated


class _Counter(Callback):
    """Counts steps; its count travels in checkpoints."""

    def __init__(self):
        self.count = 0

    def on_step_end(self, trainer):
        self.count += 1

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


def test_callback_state_travels_in_checkpoints(tiny_config, tmp_path):
    first = _Counter()
    Trainer(tiny_config(steps=6, ckpt_every=3), tmp_path / "run", callbacks=[first]).fit()
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "step-00000006.pt")
    assert state["callbacks"]["_Counter"] == {"count": 6}
    again = _Counter()
    resumed = Trainer.resume(tmp_path / "run", steps=9, callbacks=[again])
    assert again.count == 6
    resumed.fit()
    assert again.count == 9


def test_the_monitor_state_is_in_the_checkpoint_not_a_side_file(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(steps=20, monitor_every=5, ckpt_every=10), tmp_path / "run")
    trainer.fit()
    carried = load_checkpoint(trainer.run.checkpoint_path(20))["callbacks"]["MonitorCallback"]
    assert carried["checks"] == 4 and carried["monitor"]
    assert sorted(p.name for p in trainer.run.path.iterdir() if p.suffix == ".json") == ["eval.json"]
    resumed = Trainer.resume(tmp_path / "run", steps=30)
    resumed.fit()
    monitor = next(cb for cb in resumed.callbacks if isinstance(cb, MonitorCallback))
    assert monitor.checks == 6  # counted across the resume


# ---------------------------------------------------------------- the user's own GAN
class ConvG(nn.Module):
    z_dim = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(self.z_dim, 16 * 7 * 7)
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1),
                                nn.Tanh())

    def forward(self, z):
        return self.up(self.fc(z).view(-1, 16, 7, 7))


def conv_d():
    return nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1), nn.LeakyReLU(0.2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 1))


def test_user_conv_models_on_in_memory_images_train_with_the_monitor_and_reopen(tmp_path):
    rng = np.random.default_rng(0)
    images = (rng.random((200, 1, 28, 28)) > 0.7).astype(np.float32)
    config = TrainConfig(data="mine", steps=6, batch_size=16, monitor_every=3, ckpt_every=3, eval_samples=50,
                         progress=False, log_every=3)
    torch.manual_seed(0)
    G, D = ConvG(), conv_d()
    trainer = Trainer(config, tmp_path / "run", generator=G, discriminator=D, data=images)
    trainer.fit()
    assert any(isinstance(cb, MonitorCallback) and cb.checks == 2 for cb in trainer.callbacks)
    reopened = Trainer.open(tmp_path / "run", generator=ConvG(), discriminator=conv_d(), data=images)
    assert reopened.ctx.step == 6
    samples = reopened.sample(5, seed=1)
    assert samples.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(samples, trainer.sample(5, seed=1), atol=1e-6)


def test_user_models_of_the_wrong_shape_are_one_line_errors():
    config = TrainConfig(data="ring8", steps=2, progress=False)
    with pytest.raises(ConfigError) as e:
        Trainer(config, generator=ConvG(), discriminator=conv_d())
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="both"):
        Trainer(config, generator=ConvG())


def test_user_points_with_a_rare_mode_train_through_the_python_api():
    rng = np.random.default_rng(1)
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    counts = [900, 900, 60]
    pts = np.concatenate([c + 0.05 * rng.standard_normal((k, 2)) for c, k in zip(centers, counts)])
    G = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2))
    G.z_dim = 4
    D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
    trainer = Trainer(TrainConfig(data="pts", steps=4, batch_size=32, progress=False, eval_samples=20),
                      generator=G, discriminator=D, data=pts)
    trainer.fit()
    assert trainer.sample(10).shape == (10, 2)


def test_compile_trains_and_its_checkpoints_keep_their_keys(tmp_path):
    config = TrainConfig(data="ring8", steps=4, batch_size=32, strategies="ema", compile=True, progress=False,
                         eval_samples=100, model_options={"g_hidden": [8], "d_hidden": [8], "z_dim": 2})
    trainer = Trainer(config, tmp_path / "run")
    result = trainer.fit()
    assert trainer.ctx.step == 4 and 0 <= result["modes"] <= 8
    state = torch.load(sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert not any("_orig_mod" in k for k in state["G"])  # compiled in place: the usual keys
    reopened = Trainer.open(tmp_path / "run", progress=False)
    assert reopened.sample(5).shape == (5, 2)


def test_compile_refuses_double_backward_strategies_in_one_line():
    config = TrainConfig(data="ring8", steps=2, strategies="r1,ema", compile=True, progress=False)
    with pytest.raises(ConfigError, match="--compile cannot train r1: torch.compile has no double backward"):
        Trainer(config, None)


def test_a_rank_that_does_not_write_leaves_the_run_folder_alone_on_resume(tiny_config, tmp_path, monkeypatch):
    # under torchrun every rank resumes; a config write from rank 1 raced rank 0's clean-up
    run = tmp_path / "run"
    Trainer(tiny_config(steps=6), run).fit()
    config, metrics = (run / "config.yaml").read_bytes(), (run / "metrics.jsonl").read_bytes()
    real_open = Trainer.open.__func__

    def open_as_rank_1(cls, *args, **kwargs):
        trainer = real_open(cls, *args, **kwargs)
        trainer.writes = False
        return trainer

    monkeypatch.setattr(Trainer, "open", classmethod(open_as_rank_1))
    trainer = Trainer.resume(run, steps=12)
    assert trainer.config.steps == 12 and trainer.ctx.total_steps == 12
    assert (run / "config.yaml").read_bytes() == config and (run / "metrics.jsonl").read_bytes() == metrics
