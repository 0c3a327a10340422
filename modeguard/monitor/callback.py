"""The collapse monitor inside ModeGuard's trainer.

:class:`MonitorCallback` checks the run every ``config.monitor_every`` steps on samples of
the evaluation generator (the same latent draws every check, so readings differ by what
G learned, not by sampling noise), writes each reading to ``RUN_DIR/monitor.jsonl`` and
each event to ``RUN_DIR/events.jsonl`` and the console, and acts on a confirmed collapse
as ``config.on_collapse`` says: ``warn`` (only report), ``stop`` or ``heal`` (both ask the
trainer to stop with ``stop_kind == "collapse"``; the heal loop then reads
:attr:`MonitorCallback.confirmed` and rolls back).

Under torchrun the callback runs on every rank: at a check each rank generates its share of
the samples (:meth:`~modeguard.train.Trainer.gather_samples`: the readings equal a one-process
run's), rank 0 judges and broadcasts its decision, so every rank stops (or heals) at the same
step; only rank 0 builds the monitor, writes and prints.

It also tracks the last *healthy* checkpoint: one whose step had a healthy reading (or
lies between two healthy readings), and keeps it from being pruned until a later one
is confirmed healthy. Its state (the monitor's learned levels, the healthy anchor, the
counts) travels in the run's checkpoints, so resume and heal restart it where it was.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..jsonl import append_jsonl
from ..train.callbacks import Callback
from ..train.step import d_accuracy
from ..train.trainer import COLLAPSE
from .events import COLLAPSE_CONFIRMED, DIVERGED, STOPPED, Event, append_events
from .features import FeatureSpace, feature_space
from .monitor import CollapseMonitor

#: checks per run when --on-collapse is given without --monitor-every
CHECKS_PER_RUN = 50
#: default warm-up and stall windows, as shares of the run's steps
WARMUP_SHARE, STALL_SHARE = 0.1, 0.25


def default_monitor_every(total_steps: int) -> int:
    """Steps between checks for a run of ``total_steps``: 50 checks a run."""
    return max(1, int(total_steps) // CHECKS_PER_RUN)


def monitor_every_for(config) -> int:
    """The check interval an explicit ``--on-collapse`` implies: the config's, else steps // 50."""
    return config.monitor_every or default_monitor_every(config.resolved_steps())


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
    #: under torchrun every rank runs it (each generates its share of a check's samples)
    every_rank = True

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
        self.seconds = 0.0
        self.checks = 0
        self.anchor_step: int | None = None
        self._pending: list[int] = []
        self._prev_healthy = False
        self._last_read = -1
        self._loaded: dict | None = None
        self._joined = False  # a rank other than 0 has learnt the cadence from rank 0
        #: events emitted by this callback in this process (``event_counts`` spans resumes)
        self.events: list[Event] = []
        #: ``(event, anchor step)`` of the collapse this callback confirmed and stopped for
        self.confirmed: tuple[Event, int | None] | None = None
        self.diverged_event: Event | None = None
        self.event_counts: dict[str, int] = {}

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
        warmup = self.warmup if self.warmup is not None else int(WARMUP_SHARE * total)
        stall = self.stall if self.stall is not None else int(STALL_SHARE * total)
        opts = {"warmup_steps": warmup, "stall_steps": stall, "total_steps": total, "seed": c.seed,
                **self.monitor_options}
        self.monitor = CollapseMonitor(reference, **{**self.space.monitor_kwargs(), **opts})  # the user's options win
        if self.monitor.num_modes:  # data with more modes than fakes: draw more fakes
            self.n_samples = max(self.n_samples, MODE_SAMPLES * self.monitor.num_modes)
        return self.monitor

    def on_fit_start(self, trainer) -> None:
        self.confirmed = None
        if self.monitor is not None or self._joined:  # fit() called again on the same trainer: carry on
            return
        t0 = time.perf_counter()
        dist = trainer.ctx.dist
        if dist is None or dist.is_main:
            self.build(trainer)
        if dist is not None:  # every rank takes part in each check: rank 0's settings
            self.every, self.n_samples, self.on_collapse = dist.broadcast_object(
                (self.every, self.n_samples, self.on_collapse))
            self._joined = not dist.is_main
        step = trainer.ctx.step
        if self._loaded is not None:
            self._restore(self._loaded, step)
            self._loaded = None
        if self.quiet_for and self.monitor is not None:
            self.monitor.quiet(step + self.quiet_for)
        self._prev_healthy = self.anchor_step is not None and self.anchor_step == step
        self.seconds += time.perf_counter() - t0

    # ------------------------------------------------------------------ state in checkpoints
    def state_dict(self) -> dict:
        """The monitor's learned levels, the healthy anchor and the counts so far."""
        if self.monitor is None:
            return dict(self._loaded or {})
        return {"monitor": self.monitor.state_dict(), "anchor": self.anchor_step, "checks": self.checks,
                "seconds": self.seconds, "events": dict(self.event_counts), "branch": self.branch,
                "last_healthy": self._prev_healthy}

    def load_state_dict(self, state: dict) -> None:
        """Keep ``state`` until the monitor is built (at the start of ``fit``)."""
        self._loaded = dict(state)
        if self.monitor is not None:
            self._restore(self._loaded, None)
            self._loaded = None

    def _restore(self, state: dict, step: int | None) -> None:
        if state.get("monitor") and self.monitor is not None:
            self.monitor.load_state_dict(state["monitor"])
        anchor = state.get("anchor")
        if self.anchor_step is None and anchor is not None and (step is None or anchor <= step):
            self.anchor_step = int(anchor)
        self.checks = int(state.get("checks", 0))
        self.seconds = float(state.get("seconds", 0.0))
        self.event_counts = {str(k): int(v) for k, v in state.get("events", {}).items()}

    # ------------------------------------------------------------------ checks
    def on_step_end(self, trainer) -> None:
        step = trainer.ctx.step
        if step % self.every == 0 and self._last_read != step:
            self.check(trainer)

    def on_before_checkpoint(self, trainer, path: Path) -> None:
        # a checkpoint at the step of a healthy reading is healthy itself; else a later
        # healthy reading vouches for it
        step = trainer.ctx.step
        if self._last_read == step and self.monitor.last is not None and self.monitor.last.healthy:
            self.anchor_step = step
        else:
            self._pending.append(step)

    def check(self, trainer) -> list[Event]:
        """Take one reading now; emit its events and act on a confirmed collapse. Under torchrun
        every rank calls it at the same step; rank 0 judges and the others follow its decision."""
        t0 = time.perf_counter()
        ctx = trainer.ctx
        step = ctx.step
        self._last_read = step
        # the generator as trained: sampling-only filters (truncation) would hide a collapse
        # they do not cause, at the cost of their own passes every check
        samples = trainer.gather_samples(self.n_samples, seed=self.sample_seed, filters=False)
        figures = self._trainer_figures(trainer)
        if self.monitor is None:  # a rank other than 0: rank 0 judges
            self._follow(trainer, ctx.dist.broadcast_object(None))
            self.checks += 1
            return []
        feats, labels = self.space.featurize(ctx.data.to_data_space(samples))
        events = self.monitor.update(step, feats, fake_modes=labels, **figures)
        reading = self.monitor.last
        self.checks += 1
        self._settle_pending(reading, self._prev_healthy)
        self._prev_healthy = reading.healthy
        if trainer.writes:
            append_jsonl(trainer.run.monitor, {**reading.to_dict(), "branch": self.branch})
        for e in events:
            e.branch = self.branch
        self.emit(trainer, events)
        self.seconds += time.perf_counter() - t0
        confirmed = next((e for e in events if e.kind == COLLAPSE_CONFIRMED), None)
        stop = self._act(trainer, confirmed) if confirmed is not None else None
        if ctx.dist is not None:
            ctx.dist.broadcast_object({"stop": stop, "confirmed": self.confirmed, "anchor": self.anchor_step})
        return events

    def _follow(self, trainer, decision: dict) -> None:
        """On a rank other than 0: take rank 0's healthy anchor and stop where it stops."""
        self.anchor_step = decision["anchor"]
        if decision["stop"] is not None:
            self.confirmed = decision["confirmed"]
            trainer.request_stop(decision["stop"], kind=COLLAPSE, every_rank=True)

    def _trainer_figures(self, trainer) -> dict:
        """D's accuracies on the last D batch, gradient norms left by the last steps, losses
        (under torchrun the accuracies and losses are the mean over the ranks' shares)."""
        ctx = trainer.ctx
        out: dict = {}
        acc = d_accuracy(ctx)
        if acc is not None:
            out["d_real_acc"], out["d_fake_acc"] = float(acc[0]), float(acc[1])
        if trainer.steps.losses is not None:
            out["loss_d"], out["loss_g"] = (float(x) for x in trainer.steps.losses)
        if ctx.dist is not None and out:
            out = dict(zip(out, ctx.dist.mean(torch.tensor(list(out.values()), device=ctx.device)).tolist()))
        # the gradients were averaged over the ranks: their norms are the same on each
        out["grad_norm_g"] = _grad_norm(ctx.G)
        out["grad_norm_d"] = _grad_norm(ctx.D)
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

    def emit(self, trainer, events: list[Event]) -> None:
        """Record ``events``: counted, appended to ``events.jsonl`` and echoed to the console."""
        if not events:
            return
        self.events.extend(events)
        for e in events:
            self.event_counts[e.kind] = self.event_counts.get(e.kind, 0) + 1
        if trainer.writes:
            append_events(trainer.run.events, events)
        if self.echo and trainer.is_main:
            for e in events:
                tqdm.write(f"modeguard monitor: {e}")

    def _act(self, trainer, event: Event) -> str | None:
        """Stop for a confirmed collapse where ``on_collapse`` says so; returns the stop's reason."""
        msg = None
        if self.on_collapse == "heal":
            self.confirmed = (event, self.anchor_step)
            msg = f"collapse confirmed at step {event.step}: {event.message}"
        elif self.on_collapse == "stop":
            anchor = self.anchor_path(trainer)
            where = ""
            if trainer.run is not None:
                where = (f"; checkpoints kept in {trainer.run.checkpoint_dir}"
                         + (f" (last healthy: {anchor.name})" if anchor else "")
                         + f"; see 'modeguard doctor {trainer.run.path}'")
            msg = f"stopped at step {event.step}: {event.message}{where}"
            self.emit(trainer, [Event(STOPPED, event.step, msg, event.evidence, since=event.since,
                                      branch=self.branch, details={"anchor_step": self.anchor_step})])
            self.confirmed = (event, self.anchor_step)
        if msg is not None:  # under torchrun, check() broadcasts it: every rank stops at this step
            trainer.request_stop(msg, kind=COLLAPSE, every_rank=True)
        return msg

    def on_diverged(self, trainer, message: str) -> None:
        ev = Event(DIVERGED, trainer.ctx.step, message, branch=self.branch)
        self.emit(trainer, [ev])
        self.diverged_event = ev

    def protected_checkpoints(self, trainer) -> set[Path]:
        path = self.anchor_path(trainer)
        return {path} if path is not None else set()

    def anchor_path(self, trainer) -> Path | None:
        """The last healthy checkpoint's path, or None."""
        if self.anchor_step is None or trainer.run is None:
            return None
        return trainer.run.checkpoint_path(self.anchor_step)

    def on_fit_end(self, trainer, result: dict) -> None:
        result["monitor"] = self.summary()  # the trainer writes it into eval.json

    def summary(self) -> dict:
        """Checks made, their interval and cost, event counts, the last healthy step."""
        return {"checks": self.checks, "every": self.every, "seconds": round(self.seconds, 3),
                "events": dict(self.event_counts), "feature_space": self.space.name if self.space else None,
                "last_healthy_step": self.anchor_step}


def _grad_norm(module: torch.nn.Module) -> float | None:
    grads = [p.grad.detach().float().reshape(-1) for p in module.parameters() if p.grad is not None]
    if not grads:
        return None
    return float(torch.linalg.vector_norm(torch.cat(grads)))


def monitor_callbacks(config, given=()) -> list[Callback]:
    """The monitor a config asks for (``monitor_every > 0``) when ``given`` holds none."""
    if config.monitor_every > 0 and not any(isinstance(cb, MonitorCallback) for cb in given):
        return [MonitorCallback()]
    return []
