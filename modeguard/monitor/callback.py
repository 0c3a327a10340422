"""The collapse monitor inside ModeGuard's trainer.

:class:`MonitorCallback` checks the run every ``config.monitor_every`` steps on samples of
the evaluation generator (the same latent draws every check, so readings differ by what
G learned, not by sampling noise), writes each reading to ``RUN_DIR/monitor.jsonl`` and
each event to ``RUN_DIR/events.jsonl`` and the console, and acts on a confirmed collapse
as ``config.on_collapse`` says: ``warn`` (only report), ``stop`` (raise
:class:`CollapseStopped`, keeping every checkpoint) or ``heal`` (raise
:class:`CollapseDetected` for :func:`modeguard.monitor.heal.heal_loop`).

It also tracks the last *healthy* checkpoint: one whose step had a healthy reading (or
lies between two healthy readings), and keeps it from being pruned until a later one
is confirmed healthy. Its monitor state is stored per checkpoint in
``RUN_DIR/monitor_state.json``, so resume and heal restart the monitor where it was.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..errors import ModeGuardError
from ..train.callbacks import Callback
from ..jsonl import truncate_jsonl
from ..train.checkpoint import atomic_write_bytes
from .events import COLLAPSE_CONFIRMED, DIVERGED, STOPPED, Event, append_events
from .features import FeatureSpace, feature_space
from .monitor import CollapseMonitor

#: checks per run when --on-collapse is given without --monitor-every
CHECKS_PER_RUN = 50


def default_monitor_every(total_steps: int) -> int:
    return max(1, int(total_steps) // CHECKS_PER_RUN)


def monitor_every_for(config) -> int:
    """The check interval an explicit ``--on-collapse`` implies: the config's, else steps // 50."""
    return config.monitor_every or default_monitor_every(config.resolved_steps())


class CollapseDetected(ModeGuardError):
    """A confirmed collapse (or divergence) in a run that heals; caught by the heal loop."""

    def __init__(self, event: Event, anchor_step: int | None):
        super().__init__(f"{event}; it needs healing (modeguard.monitor.heal.heal_loop or "
                         f"'modeguard train --on-collapse heal')")
        self.event = event
        self.anchor_step = anchor_step


class CollapseStopped(ModeGuardError):
    """A confirmed collapse in a run with ``on_collapse: stop``; every checkpoint is kept."""


#: fakes per known mode a check draws at least: more would resolve many modes better, but on
#: images each fake costs a classifier pass (5 per mode made checks 40% of a stacked run)
MODE_SAMPLES = 1


class MonitorCallback(Callback):
    """Runs a :class:`CollapseMonitor` inside :class:`~modeguard.train.Trainer`.

    every: steps between checks (default: the config's ``monitor_every``, or steps // 50).
    n_samples / n_reference: fakes per check (at least ``MODE_SAMPLES`` per known mode) and
    size of the real reference set.
    warmup: steps before the monitor judges the run against its learned levels (default
    10% of the run); stall: steps without progress after which a run stuck below real
    data's level raises an alarm (default 25% of the run). feature_space: ``builder(data) -> FeatureSpace`` (default by data kind).
    on_collapse: override the config's. branch: heals before this callback's run.
    """

    is_collapse_monitor = True

    def __init__(self, every: int | None = None, n_samples: int = 1000, n_reference: int = 1000,
                 warmup: int | None = None, stall: int | None = None, feature_space=None,
                 on_collapse: str | None = None, branch: int = 0, echo: bool = True, monitor_options=None,
                 quiet_for: int = 0, sample_seed: int = 4242, reference_seed: int = 777):
        self.every = every
        self.n_samples, self.n_reference = n_samples, n_reference
        self.warmup, self.stall = warmup, stall
        self.feature_builder = feature_space
        self.on_collapse = on_collapse
        self.branch = branch
        self.echo = echo
        self.monitor_options = dict(monitor_options or {})
        self.quiet_for = quiet_for
        self.sample_seed, self.reference_seed = sample_seed, reference_seed
        self.monitor: CollapseMonitor | None = None
        self.space: FeatureSpace | None = None
        self.events: list[Event] = []
        self.seconds = 0.0
        self.checks = 0
        self.anchor_step: int | None = None
        self._ckpt_states: dict[int, dict] = {}
        self._pending: list[int] = []
        self._prev_healthy = False
        self._last_read = -1
        self.diverged_event: Event | None = None

    # ------------------------------------------------------------------ set-up
    def build(self, trainer) -> CollapseMonitor:
        """The monitor for this trainer's data (reference set, modes, thresholds)."""
        ctx, c = trainer.ctx, trainer.config
        total = ctx.total_steps
        if self.every is None:
            self.every = c.monitor_every or default_monitor_every(total)
        if self.on_collapse is None:
            self.on_collapse = c.on_collapse
        self.space = (self.feature_builder or feature_space)(ctx.data)
        reference, _ = self.space.featurize(ctx.data.reference(self.n_reference, seed=self.reference_seed))
        warmup = self.warmup if self.warmup is not None else int(0.1 * total)
        stall = self.stall if self.stall is not None else int(0.25 * total)
        opts = {"warmup_steps": warmup, "stall_steps": stall, "total_steps": total, "seed": c.seed,
                **self.monitor_options}
        self.monitor = CollapseMonitor(reference, **self.space.monitor_kwargs(), **opts)
        if self.monitor.num_modes:  # data with more modes than fakes: draw more fakes
            self.n_samples = max(self.n_samples, MODE_SAMPLES * self.monitor.num_modes)
        return self.monitor

    def on_fit_start(self, trainer) -> None:
        if self.monitor is not None:  # fit() called again on the same trainer: carry on as we are
            return
        t0 = time.perf_counter()
        self.build(trainer)
        step = trainer.ctx.step
        if trainer.run is not None and step > 0:
            saved = self._load_saved(trainer)
            state = saved.get("states", {}).get(str(step))
            if state is not None:
                self.monitor.load_state_dict(state)
            if self.anchor_step is None and saved.get("anchor") is not None and saved["anchor"] <= step:
                self.anchor_step = int(saved["anchor"])
            self._ckpt_states = {int(k): v for k, v in saved.get("states", {}).items() if int(k) <= step}
            self._truncate_readings(trainer, step)
        if self.quiet_for:
            self.monitor.quiet(step + self.quiet_for)
        self._prev_healthy = self.anchor_step is not None and self.anchor_step == step
        self.seconds += time.perf_counter() - t0

    # ------------------------------------------------------------------ checks
    def on_checkpoint(self, trainer, path: Path) -> None:
        step = trainer.ctx.step
        self._pending.append(step)
        # judge this checkpoint by a reading at its own step (it is saved before on_step_end)
        if step % self.every == 0 and self._last_read != step:
            self.check(trainer)
        self._ckpt_states[step] = self.monitor.state_dict()
        self._save_state(trainer)

    def on_step_end(self, trainer) -> None:
        step = trainer.ctx.step
        if step % self.every == 0 and self._last_read != step:
            self.check(trainer)

    def check(self, trainer) -> list[Event]:
        """Take one reading now; emit its events and act on a confirmed collapse."""
        t0 = time.perf_counter()
        ctx = trainer.ctx
        step = ctx.step
        self._last_read = step
        samples = trainer.sample_model_space(self.n_samples, seed=self.sample_seed)
        feats, labels = self.space.featurize(ctx.data.to_data_space(samples))
        events = self.monitor.update(step, feats, fake_modes=labels, **self._trainer_figures(trainer))
        reading = self.monitor.last
        self.checks += 1
        self._settle_pending(reading, self._prev_healthy)
        self._prev_healthy = reading.healthy
        if trainer.run is not None:
            with open(trainer.run.path / "monitor.jsonl", "a") as f:
                f.write(json.dumps({**reading.to_dict(), "branch": self.branch}) + "\n")
        for e in events:
            e.branch = self.branch
        self._emit(trainer, events)
        self.seconds += time.perf_counter() - t0
        confirmed = next((e for e in events if e.kind == COLLAPSE_CONFIRMED), None)
        if confirmed is not None:
            self._act(trainer, confirmed)
        return events

    def _trainer_figures(self, trainer) -> dict:
        """D's accuracies on the last D batch, gradient norms left by the last steps, losses."""
        ctx = trainer.ctx
        out: dict = {}
        b = ctx.last_d_batch
        if b is not None and b.d_real is not None and b.d_fake is not None:
            score = ctx.objective.real_score
            out["d_real_acc"] = float((score(b.d_real.detach().float()) > 0).float().mean())
            out["d_fake_acc"] = float((score(b.d_fake.detach().float()) <= 0).float().mean())
        out["grad_norm_g"] = _grad_norm(ctx.G)
        out["grad_norm_d"] = _grad_norm(ctx.D)
        losses = getattr(trainer, "_last_losses", None)
        if losses is not None:
            out["loss_d"], out["loss_g"] = float(losses[0]), float(losses[1])
        return {k: v for k, v in out.items() if v is not None}

    def _settle_pending(self, reading, prev_healthy: bool) -> None:
        """Promote checkpoints a healthy reading vouches for to the rollback anchor: one at
        the reading's own step, or one between it and a healthy previous reading."""
        step = reading.step
        if reading.healthy:
            vouched = [s for s in self._pending if s == step or (s < step and prev_healthy)]
            if vouched:
                self.anchor_step = max(vouched)
        self._pending = [s for s in self._pending if s > step]

    def _emit(self, trainer, events: list[Event]) -> None:
        if not events:
            return
        self.events.extend(events)
        if trainer.run is not None:
            append_events(trainer.run.events, events)
        if self.echo:
            from tqdm.auto import tqdm

            for e in events:
                tqdm.write(f"modeguard monitor: {e}")

    def _act(self, trainer, event: Event) -> None:
        if self.on_collapse == "heal":
            raise CollapseDetected(event, self.anchor_step)
        if self.on_collapse == "stop":
            anchor = self.anchor_path(trainer)
            where = ""
            if trainer.run is not None:
                where = (f"; checkpoints kept in {trainer.run.checkpoint_dir}"
                         + (f" (last healthy: {anchor.name})" if anchor else "")
                         + f"; see 'modeguard doctor {trainer.run.path}'")
            msg = f"stopped at step {event.step}: {event.message}{where}"
            self._emit(trainer, [Event(STOPPED, event.step, msg, event.evidence, since=event.since,
                                       branch=self.branch, details={"anchor_step": self.anchor_step})])
            raise CollapseStopped(msg)

    def on_diverged(self, trainer, message: str) -> None:
        ev = Event(DIVERGED, trainer.ctx.step, message, branch=self.branch)
        self._emit(trainer, [ev])
        self.diverged_event = ev

    def protected_checkpoints(self, trainer) -> set[Path]:
        path = self.anchor_path(trainer)
        return {path} if path is not None else set()

    def anchor_path(self, trainer) -> Path | None:
        if self.anchor_step is None or trainer.run is None:
            return None
        return trainer.run.checkpoint_path(self.anchor_step)

    def on_fit_end(self, trainer, result: dict) -> None:
        if trainer.run is None or not trainer.run.eval_json.is_file():
            return
        try:
            saved = json.loads(trainer.run.eval_json.read_text())
        except json.JSONDecodeError:
            return
        saved["monitor"] = self.summary()
        trainer.run.eval_json.write_text(json.dumps(saved, indent=2))

    def summary(self) -> dict:
        kinds: dict[str, int] = {}
        for e in self.events:
            kinds[e.kind] = kinds.get(e.kind, 0) + 1
        return {"checks": self.checks, "every": self.every, "seconds": round(self.seconds, 3),
                "events": kinds, "feature_space": self.space.name if self.space else None,
                "last_healthy_step": self.anchor_step}

    # ------------------------------------------------------------------ persistence
    def _state_file(self, trainer) -> Path:
        return trainer.run.path / "monitor_state.json"

    def _load_saved(self, trainer) -> dict:
        path = self._state_file(trainer)
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}

    def _save_state(self, trainer) -> None:
        if trainer.run is None:
            return
        kept = {s for s, _ in trainer.run.checkpoints()} | {trainer.ctx.step}
        self._ckpt_states = {s: v for s, v in self._ckpt_states.items() if s in kept}
        data = {"branch": self.branch, "anchor": self.anchor_step,
                "states": {str(s): v for s, v in sorted(self._ckpt_states.items())}}
        atomic_write_bytes(self._state_file(trainer), lambda f: f.write(json.dumps(data).encode()))

    def _truncate_readings(self, trainer, step: int) -> None:
        path = trainer.run.path / "monitor.jsonl"
        if path.is_file():
            truncate_jsonl(path, step)


def _grad_norm(module: torch.nn.Module) -> float | None:
    grads = [p.grad.detach().float().reshape(-1) for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    return float(torch.linalg.vector_norm(torch.cat(grads)))


def auto_callbacks(config, given=()) -> list[Callback]:
    """Callbacks a config asks for that the caller did not pass: the monitor when
    ``monitor_every > 0``, TensorBoard when ``tensorboard`` is set."""
    out: list[Callback] = []
    if config.monitor_every > 0 and not any(getattr(cb, "is_collapse_monitor", False) for cb in given):
        out.append(MonitorCallback())
    if config.tensorboard and not any(getattr(cb, "is_tensorboard", False) for cb in given):
        from ..report.tensorboard import TensorBoardCallback

        out.append(TensorBoardCallback())
    return out
