"""Self-healing training: roll back to the last healthy checkpoint and escalate a ladder.

``modeguard train --on-collapse heal`` runs :func:`heal_loop`. When the monitor confirms
a collapse (the trainer stops with ``stop_kind == "collapse"``) or the losses turn
non-finite, the loop

1. takes the next rung of the ladder that changes the run (``config.heal_ladder``,
   default :data:`~.ladder.DEFAULT_LADDER`); rungs accumulate, so the k-th heal runs with
   the first k changes,
2. archives what the collapsed branch wrote after the healthy checkpoint
   (:func:`~.archive.archive_branch`),
3. rebuilds the trainer with the amended config (saved as ``config.yaml``; the first
   one is kept as ``config.original.yaml``, so resume, sample and eval still work),
4. loads the healthy checkpoint into it (:func:`~.transplant.transplant`) and rewrites that
   checkpoint in the new layout, so every checkpoint in ``checkpoints/`` matches
   ``config.yaml`` (the original file is kept in the abandoned folder),
5. writes a ``heal`` event with its reason to ``events.jsonl`` and the history to
   ``heals.json``, and trains on from the healthy step.

Under torchrun every rank runs the loop: the monitor's decision reaches every rank at the
same step (see :mod:`..callback`); rank 0 picks the rung and broadcasts it, archives the
branch and rewrites the config and the healthy checkpoint; then every rank builds the same
amended trainer and loads that checkpoint, so the ranks roll back together and keep
identical weights. Only rank 0 writes.

With no healthy checkpoint yet (the run never was healthy), the healed run restarts
from step 0. At most ``config.max_heals`` heals; after that (or when the ladder is
used up) the run goes on and only reports, as with ``warn``. ``eval.json`` lists the
heals.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from tqdm.auto import tqdm

from ...config import TrainConfig
from ...errors import ConfigError, DivergenceError
from ...runs import start_run
from ...train import Trainer
from ...train.checkpoint import load_checkpoint, save_checkpoint
from ...train.trainer import COLLAPSE
from ..callback import MonitorCallback
from ..events import DIVERGED, HEAL, Event, append_events
from .archive import HealRecord, archive_branch
from .ladder import Rung, parse_ladder
from .transplant import transplant

#: checks after a rollback during which the monitor raises no alarm (the run settles)
QUIET_CHECKS = 3


def _monitor_of(trainer) -> MonitorCallback:
    for cb in trainer.callbacks:
        if isinstance(cb, MonitorCallback):
            return cb
    raise ConfigError("healing needs the collapse monitor: set monitor_every > 0")


def heal_loop(trainer, echo: bool = True):
    """Train ``trainer`` (a new or resumed run in a run directory), healing confirmed
    collapses and divergences. Returns ``(final trainer, final evaluation)``; the evaluation
    (and ``eval.json``) lists the heals under ``heals``."""
    if trainer.run is None:
        raise ConfigError("healing needs a run directory (--out) to roll back to")
    ladder = parse_ladder(trainer.config.heal_ladder)
    record = _heal_record(trainer)
    monitor = _monitor_of(trainer)
    monitor.branch = len(record.heals)
    monitor.echo = echo
    if record.exhausted:
        monitor.on_collapse = "warn"
    while True:
        try:
            result = trainer.fit()
            monitor = _monitor_of(trainer)
            if trainer.stop_kind != COLLAPSE or monitor.confirmed is None or monitor.on_collapse != "heal":
                break
            cause, anchor = monitor.confirmed
        except DivergenceError as e:
            monitor = _monitor_of(trainer)
            if record.exhausted or len(record.heals) >= trainer.config.max_heals:
                raise
            cause = monitor.diverged_event or Event(DIVERGED, trainer.ctx.step, str(e))
            anchor = monitor.anchor_step
        if trainer.ctx.dist is not None:  # rank 0 tracked the healthy anchor: its word counts
            cause, anchor = trainer.ctx.dist.broadcast_object((cause, anchor))
        healed = heal_once(trainer, cause, anchor, ladder, record, echo=echo)
        if healed is None:  # nothing left to try: carry on, only reporting
            monitor = _monitor_of(trainer)
            monitor.on_collapse = "warn"
            if cause.kind == DIVERGED:
                raise DivergenceError(cause.message)
            continue
        trainer = healed
    result = {**result, "heals": _heal_summary(record)}
    if trainer.writes:
        _write_heals_into_eval(trainer, record)
    return trainer, result


def _heal_record(trainer) -> HealRecord:
    """``heals.json`` as rank 0 reads it (under torchrun the other ranks get its contents)."""
    record = HealRecord(trainer.run.heals)
    if trainer.ctx.dist is not None:
        record.heals, record.next_rung, record.exhausted = trainer.ctx.dist.broadcast_object(
            (record.heals, record.next_rung, record.exhausted))
    return record


def heal_once(trainer, cause: Event, anchor_step: int | None, ladder: list[Rung], record: HealRecord,
              echo: bool = True):
    """One heal (see the module docstring). Returns the new trainer, or None when the
    budget or the ladder is used up (a ``heal`` event says so)."""
    number = len(record.heals) + 1
    new_trainer, rung, change, skipped = _next_rung_trainer(trainer, ladder, record, number, echo)
    if new_trainer is None:
        _report_exhausted(trainer, cause, record, number, skipped)
        return None
    step, anchor_path, notes = _roll_back(trainer, new_trainer, anchor_step, number)
    run, config = trainer.run, trainer.config
    what = cause.kind.replace("_", " ")
    evidence = "; ".join(e.describe() for e in cause.evidence[:2]) or cause.message
    message = (f"heal {number}/{config.max_heals}: {what} at step {cause.step} ({evidence}); "
               f"rolled back to step {step}, {change}" + (f"; {'; '.join(notes)}" if notes else ""))
    details = {"heal": number, "max_heals": config.max_heals, "action": rung.text, "change": change,
               "cause": cause.kind, "cause_step": cause.step, "cause_message": cause.message,
               "since": cause.since, "rolled_back_to": step,
               "checkpoint": anchor_path.name if anchor_path is not None else None,
               "restarted": anchor_path is None, "notes": notes, "skipped": skipped,
               "strategies": list(new_trainer.config.to_dict()["strategies"]),
               "lr_g": new_trainer.config.lr_g, "lr_d": new_trainer.config.lr_d,
               "archived": str(run.abandoned_branch(number).path.relative_to(run.path))}
    event = Event(HEAL, step, message, list(cause.evidence), since=cause.since, branch=number, details=details)
    record.heals.append(details)
    if trainer.writes:
        record.save()
        append_events(run.events, [event])
        if echo:
            tqdm.write(f"modeguard: {event}")
    return new_trainer


def _next_rung_trainer(trainer, ladder: list[Rung], record: HealRecord, number: int, echo: bool):
    """``(trainer, rung, change, skipped)`` for the next rung that builds a changed run, or
    ``(None, None, "", skipped)`` when the budget or the ladder is used up. Under torchrun
    rank 0 picks the rung and broadcasts it; every rank builds the same amended trainer."""
    dist = trainer.ctx.dist
    picked = (None, None, "", [])
    if dist is None or dist.is_main:
        picked = _pick_rung(trainer, ladder, record, number, echo)
    if dist is None:
        return picked
    new_trainer, rung, change, skipped = picked
    shared = (new_trainer.config if new_trainer is not None else None, rung, change, skipped, record.next_rung)
    config, rung, change, skipped, record.next_rung = dist.broadcast_object(shared)
    if new_trainer is None and config is not None:
        new_trainer = Trainer(config, trainer.run.path, callbacks=_heal_callbacks(trainer, number, echo))
    return new_trainer, rung, change, skipped


def _pick_rung(trainer, ladder: list[Rung], record: HealRecord, number: int, echo: bool):
    """Walk the ladder from ``record.next_rung`` to the first rung that changes the run and
    builds; returns ``(trainer, rung, change, skipped)`` as :func:`_next_rung_trainer`."""
    config = trainer.config
    skipped: list[str] = []
    if number > config.max_heals:
        return None, None, "", skipped
    while record.next_rung < len(ladder):
        rung = ladder[record.next_rung]
        record.next_rung += 1
        try:
            applied = rung.apply(config)
            if applied is None:
                skipped.append(f"{rung.text} (changes nothing here)")
                continue
            new_config, change = applied
            callbacks = _heal_callbacks(trainer, number, echo)
            return Trainer(new_config, trainer.run.path, callbacks=callbacks), rung, change, skipped
        except ConfigError as e:
            skipped.append(f"{rung.text} ({e})")
    return None, None, "", skipped


def _heal_callbacks(trainer, number: int, echo: bool) -> list:
    """The healed branch's callbacks: a fresh monitor (quiet while the run settles, with the
    old one's settings) and the old callbacks but the monitor and TensorBoard."""
    old = _monitor_of(trainer)
    inner = old.monitor  # None on ranks other than 0 under torchrun: they never judge
    monitor = MonitorCallback(branch=number, echo=echo, quiet_for=QUIET_CHECKS * old.every, every=old.every,
                              n_samples=old.n_samples, n_reference=old.n_reference,
                              warmup=inner.warmup_steps if inner is not None else None,
                              stall=inner.stall_steps if inner is not None else None,
                              feature_space=old.feature_builder, monitor_options=old.monitor_options)
    others = [cb for cb in trainer.callbacks
              if not isinstance(cb, MonitorCallback) and not getattr(cb, "is_tensorboard", False)]
    return [monitor, *others]


def _report_exhausted(trainer, cause: Event, record: HealRecord, number: int, skipped: list[str]) -> None:
    """Record that no heal is left; the run goes on and only reports."""
    record.exhausted = True
    if trainer.writes:
        record.save()
    why = "the heal budget is spent" if number > trainer.config.max_heals else "the ladder is used up"
    monitor = _monitor_of(trainer)
    event = Event(HEAL, trainer.ctx.step, f"no heal left ({why}, {len(record.heals)} done): "
                  f"training goes on and only reports", since=cause.since, branch=monitor.branch,
                  details={"heal": None, "exhausted": True, "cause": cause.kind, "skipped": skipped})
    monitor.emit(trainer, [event])


def _roll_back(trainer, new_trainer, anchor_step: int | None, number: int):
    """Archive the collapsed branch as ``abandoned/heal-<number>``, save the amended config
    and load the healthy checkpoint into ``new_trainer`` (rewritten in its layout).
    Returns ``(step rolled back to, anchor checkpoint path or None, notes)``. Under torchrun
    rank 0 does the files; once it has, the other ranks load the rewritten checkpoint."""
    dist = trainer.ctx.dist
    if dist is None or dist.is_main:
        rolled = _roll_back_files(trainer, new_trainer, anchor_step, number)
    if dist is not None:  # the broadcast returns on the other ranks once rank 0 has written
        rolled = dist.broadcast_object(rolled if dist.is_main else None)
        step, anchor_path, _ = rolled
        if not dist.is_main and anchor_path is not None:
            new_trainer.load_state_dict(load_checkpoint(anchor_path))
    _monitor_of(new_trainer).anchor_step = rolled[0] if rolled[1] is not None else None
    return rolled


def _roll_back_files(trainer, new_trainer, anchor_step: int | None, number: int):
    """:func:`_roll_back`'s work on disk and in ``new_trainer`` (the one writing process)."""
    run = trainer.run
    step = anchor_step if anchor_step is not None else 0
    dest = run.abandoned_branch(number)
    anchor_path = run.checkpoint_path(anchor_step) if anchor_step is not None else None
    if anchor_path is not None and not anchor_path.is_file():
        anchor_path, step = None, 0
    state = load_checkpoint(anchor_path) if anchor_path is not None else None
    archive_branch(run, step, dest)
    if anchor_path is not None:
        shutil.copy2(anchor_path, dest.anchor_path(step))
    if run.config.exists():
        shutil.copy2(run.config, dest.config)  # the branch's own config, to open its checkpoint
        if not run.original_config.exists():
            shutil.copy2(run.config, run.original_config)
    new_trainer.config.save(run.config)
    if state is None:
        return step, None, ["no healthy checkpoint yet: restarted from step 0"]
    notes = transplant(new_trainer, state)
    save_checkpoint(anchor_path, new_trainer.state_dict())
    return step, anchor_path, notes


def _heal_summary(record: HealRecord) -> list[dict]:
    return [{k: h.get(k) for k in ("heal", "cause", "cause_step", "rolled_back_to", "action", "change")}
            for h in record.heals]


def _write_heals_into_eval(trainer, record: HealRecord) -> None:
    path = trainer.run.eval_json
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())
    except json.JSONDecodeError:
        return
    saved["heals"] = _heal_summary(record)
    saved["strategies"] = list(trainer.config.to_dict()["strategies"])
    path.write_text(json.dumps(saved, indent=2))


def train_with_healing(config: TrainConfig, out: str | Path | None = None, overwrite: bool = False,
                       callbacks=(), echo: bool = True):
    """Start a run in ``out`` and train it with healing (``on_collapse`` is set to ``heal``).
    Returns ``(final trainer, final evaluation)``."""
    config = dataclasses.replace(config, on_collapse="heal")
    trainer = start_run(config, out, overwrite=overwrite, callbacks=callbacks)
    return heal_loop(trainer, echo=echo)
