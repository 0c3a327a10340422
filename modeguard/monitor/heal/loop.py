"""Self-healing training: roll back to the last healthy checkpoint and escalate a ladder.

``modeguard train --on-collapse heal`` runs :func:`heal_loop`. When the monitor confirms
a collapse (or the losses turn non-finite), the loop

1. takes the next rung of the ladder that changes the run (``config.heal_ladder``,
   default :data:`DEFAULT_LADDER`); rungs accumulate, so the k-th heal runs with the
   first k changes,
2. moves what the collapsed branch wrote after the healthy checkpoint (log rows,
   samples, its newest checkpoint) to ``RUN_DIR/abandoned/heal-K/``: nothing is deleted
   but the branch's older checkpoints, and the run directory again holds one timeline,
3. rebuilds the trainer with the amended config (saved as ``config.yaml``; the first
   one is kept as ``config.original.yaml``, so resume, sample and eval still work),
4. loads the healthy checkpoint into it (see :func:`transplant`) and rewrites that
   checkpoint in the new layout, so every checkpoint in ``checkpoints/`` matches
   ``config.yaml`` (the original file is kept in the abandoned folder),
5. writes a ``heal`` event with its reason to ``events.jsonl`` and the history to
   ``heals.json``, and trains on from the healthy step.

With no healthy checkpoint yet (the run never was healthy), the healed run restarts
from step 0. At most ``config.max_heals`` heals; after that (or when the ladder is
used up) the run goes on and only reports, as with ``warn``. ``eval.json`` lists the
heals.

**Weights across a heal.** Everything whose shape still fits is loaded: G, D, both
optimizers' moments and the strategies' states. When D's shape changed (``pacgan``
widens its input; ``spectral-norm`` renames its weights), D and its optimizer start
fresh and G keeps its weights and moments: a fresh D relearns the current G within a
few hundred steps, while a G restarted from scratch would lose the work. The learning
rates are those of the amended config, not the checkpoint's.

Ladder rungs (strings):

- ``recipe``: add every strategy of the default recipe that the run lacks (with the
  recipe's options)
- ``NAME`` or ``NAME:opt=v...``: add the strategy; if the run has it, set those options
- ``NAME.OPT*F``: multiply a strategy option by F (a strategy not in the run is added
  with its defaults), e.g. ``r1.gamma*10``
- ``FIELD*F``: multiply a config number, FIELD one of :data:`SCALABLE_FIELDS`, e.g. ``lr_g*0.5``

A rung that would change nothing, or that builds an invalid run, is skipped.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_RECIPES, TrainConfig, is_default_recipe
from ..data import resolve_data
from ..errors import CheckpointError, ConfigError, DivergenceError
from ..strategies import parse_strategies, parse_strategy, registry
from ..jsonl import read_jsonl, write_jsonl
from ..train.checkpoint import CKPT_RE, RunDir, atomic_write_bytes, load_checkpoint, save_checkpoint
from .callback import CollapseDetected, MonitorCallback
from .events import DIVERGED, HEAL, Event, append_events

#: what ``--on-collapse heal`` tries, in order (rungs naming a strategy that is not
#: installed are left out): first ModeGuard's default recipe (the strategies it lacks;
#: tuned on the mixtures), then a stronger R1 penalty, packing, instance noise annealed
#: over the whole run (added late, it still has noise to give), a slower G.
DEFAULT_LADDER = ("recipe", "r1.gamma*10", "pacgan", "instance-noise:anneal=1", "lr_g*0.5")
#: the rung that brings in every strategy of ModeGuard's default recipe the run lacks
RECIPE_RUNG = "recipe"
#: config numbers a ``FIELD*F`` rung may scale
SCALABLE_FIELDS = {"lr_g": float, "lr_d": float, "n_critic": int, "batch_size": int}
#: checks after a rollback during which the monitor raises no alarm (the run settles)
QUIET_CHECKS = 3


@dataclass(frozen=True)
class Rung:
    """One step of the ladder; ``apply`` returns ``(amended config, what changed)`` or None."""

    text: str

    def apply(self, config: TrainConfig) -> tuple[TrainConfig, str] | None:
        text = self.text
        unbuilt = is_default_recipe(config.strategies)  # a config not yet built: spell its recipe out
        kind = resolve_data(config.data).kind if unbuilt or text == RECIPE_RUNG else None
        if unbuilt:
            config = dataclasses.replace(config, strategies=list(DEFAULT_RECIPES[kind]))
        if text == RECIPE_RUNG:
            return self._add_recipe(config, kind)
        if "*" in text:
            target, _, factor_text = text.partition("*")
            factor = _factor(text, factor_text)
            if "." in target:
                return self._scale_option(config, *target.split(".", 1), factor)
            return self._scale_field(config, target, factor)
        return self._set_strategy(config, text)

    def validate(self) -> None:
        """ConfigError when the rung cannot mean anything (unknown name, option or field)."""
        text = self.text
        if text == RECIPE_RUNG:
            return
        if "*" in text:
            target, _, factor_text = text.partition("*")
            _factor(text, factor_text)
            if "." in target:
                name, opt = target.split(".", 1)
                cls = registry().get(name)
                if cls is None:
                    raise ConfigError(f"heal_ladder: unknown strategy '{name}' in '{text}'")
                o = cls.options.get(opt)
                if o is None or o.type not in (int, float):
                    raise ConfigError(f"heal_ladder: '{text}': strategy '{name}' has no numeric option '{opt}'")
            elif target not in SCALABLE_FIELDS:
                raise ConfigError(f"heal_ladder: '{text}': only {', '.join(SCALABLE_FIELDS)} can be scaled")
        else:
            try:
                parse_strategy(text)
            except ConfigError as e:
                raise ConfigError(f"heal_ladder: {e}") from None

    @classmethod
    def _add_recipe(cls, config, kind: str) -> tuple[TrainConfig, str] | None:
        changes = []
        for spec in DEFAULT_RECIPES[kind]:
            applied = cls._set_strategy(config, spec)
            if applied is not None:
                config, what = applied
                changes.append(what)
        return (config, "; ".join(changes)) if changes else None

    @staticmethod
    def _set_strategy(config, text: str) -> tuple[TrainConfig, str] | None:
        wanted = parse_strategy(text)
        explicit = [p.partition("=")[0].strip() for p in text.split(":")[1:]]
        current = parse_strategies(config.strategies)
        for i, s in enumerate(current):
            if s.name == wanted.name:
                merged = {**s.opts, **{k: wanted.opts[k] for k in explicit}}
                if merged == s.opts:
                    return None
                changes = ", ".join(f"{k} {s.opts[k]} -> {v}" for k, v in merged.items() if s.opts[k] != v)
                current[i] = type(s)(**merged)
                return _with_strategies(config, current), f"set {s.name} {changes}"
        return _with_strategies(config, [*current, wanted]), f"added {wanted.spec_string()}"

    @staticmethod
    def _scale_option(config, name: str, opt: str, factor: float) -> tuple[TrainConfig, str] | None:
        current = parse_strategies(config.strategies)
        for i, s in enumerate(current):
            if s.name == name:
                old = s.opts[opt]
                new = type(old)(old * factor) if isinstance(old, int) else old * factor
                if new == old:
                    return None
                current[i] = type(s)(**{**s.opts, opt: new})  # validates the option's range
                return _with_strategies(config, current), f"set {name} {opt} {old:g} -> {new:g}"
        added = parse_strategy(name)
        return _with_strategies(config, [*current, added]), f"added {added.spec_string()}"

    @staticmethod
    def _scale_field(config, field: str, factor: float) -> tuple[TrainConfig, str] | None:
        old = getattr(config, field)
        if old is None and field in ("lr_g", "lr_d"):  # unset: the default for the data's kind
            old = getattr(config.for_kind(resolve_data(config.data).kind), field)
        new = max(1, int(round(old * factor))) if SCALABLE_FIELDS[field] is int else old * factor
        if new == old:
            return None
        return dataclasses.replace(config, **{field: new}), f"{field} {old:g} -> {new:g}"


def _factor(text: str, factor_text: str) -> float:
    try:
        factor = float(factor_text)
    except ValueError:
        raise ConfigError(f"heal_ladder: '{text}': the factor after '*' must be a number") from None
    if not factor > 0:
        raise ConfigError(f"heal_ladder: '{text}': the factor must be positive")
    return factor


def _with_strategies(config: TrainConfig, strategies) -> TrainConfig:
    return dataclasses.replace(config, strategies=[s.spec_string() for s in strategies])


def parse_ladder(value) -> list[Rung]:
    """The ladder from a config value: None (the default), a list of rungs, or one string
    of rungs separated by commas (``'instance-noise,r1.gamma*10,lr_g*0.5'``)."""
    if value is None:
        installed = registry()
        return [Rung(t) for t in DEFAULT_LADDER if _rung_strategy(t) is None or _rung_strategy(t) in installed]
    if isinstance(value, str):
        from ..strategies.base import _split_specs

        items = _split_specs(value)
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"heal_ladder must be a list of rungs or a comma-separated string, got {value!r}")
    rungs = [Rung(t) for t in items if t]
    for r in rungs:
        r.validate()
    return rungs


def _rung_strategy(text: str) -> str | None:
    if text == RECIPE_RUNG:
        return None
    target = text.partition("*")[0]
    if "*" in text and "." not in target:
        return None
    return target.split(".", 1)[0].split(":", 1)[0]


# ---------------------------------------------------------------------- moving weights
def transplant(trainer, state: dict) -> list[str]:
    """Load a checkpoint ``state`` into a trainer whose config was amended.

    Loads everything whose shape fits; returns notes on what started fresh. The
    optimizers keep the learning rates the new trainer was built with."""
    ctx = trainer.ctx
    fresh_lrs = [[g["lr"] for g in opt.param_groups] for opt in (ctx.opt_g, ctx.opt_d)]
    try:
        trainer.load_state_dict(state)
        notes: list[str] = []
    except CheckpointError:
        notes = _load_piecewise(trainer, state)
    for opt, lrs in zip((ctx.opt_g, ctx.opt_d), fresh_lrs):
        for group, lr in zip(opt.param_groups, lrs):
            group["lr"] = lr
            if "initial_lr" in group:
                group["initial_lr"] = lr
    return notes


def _load_piecewise(trainer, state: dict) -> list[str]:
    import torch

    ctx = trainer.ctx
    notes = []

    def load(module, key) -> bool:
        try:
            module.load_state_dict(state[key])
            return True
        except (KeyError, RuntimeError, ValueError):
            return False

    g_ok = load(ctx.G, "G")
    if not g_ok:
        notes.append("G started fresh (its layers changed)")
    elif not load(ctx.opt_g, "opt_g"):
        notes.append("G's optimizer state was reset")
    if not load(ctx.D, "D"):
        notes.append("D started fresh (its input or layers changed), G kept its weights")
    elif not load(ctx.opt_d, "opt_d"):
        notes.append("D's optimizer state was reset")
    for s in ctx.strategies:
        saved = state.get("strategies", {}).get(s.name)
        if saved is None:
            continue
        try:
            s.load_state_dict(saved)
        except Exception:  # a strategy whose state no longer fits starts fresh
            notes.append(f"{s.name} started fresh")
    ctx.rng.set_state(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    ctx.step = int(state["step"])
    return notes


# ---------------------------------------------------------------------- the run directory
JSONL_FILES = ("metrics.jsonl", "evals.jsonl", "events.jsonl", "monitor.jsonl")


def archive_branch(run, after_step: int, dest: Path, keep_checkpoint: bool = True) -> None:
    """Move what the run wrote after ``after_step`` into ``dest`` (rows, samples, the newest
    checkpoint; older checkpoints of the branch are deleted). Heal events stay: they are
    the run's history."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in JSONL_FILES:
        path = run.path / name
        rows = read_jsonl(path)
        if not rows:
            continue
        keep = [r for r in rows if r.get("step", 0) <= after_step or r.get("kind") == HEAL]
        moved = [r for r in rows if not (r.get("step", 0) <= after_step or r.get("kind") == HEAL)]
        if moved:
            write_jsonl(dest / name, moved)
            write_jsonl(path, keep)
    later = [(s, p) for s, p in run.checkpoints() if s > after_step]
    for i, (_, p) in enumerate(later):
        if keep_checkpoint and i == len(later) - 1:
            (dest / "checkpoints").mkdir(exist_ok=True)
            shutil.move(str(p), dest / "checkpoints" / p.name)
        else:
            p.unlink(missing_ok=True)
    if run.samples_dir.is_dir():
        for png in sorted(run.samples_dir.glob("step-*.png")):
            step = _step_of(png.name)
            if step is not None and step > after_step:
                (dest / "samples").mkdir(exist_ok=True)
                shutil.move(str(png), dest / "samples" / png.name)


def _step_of(name: str) -> int | None:
    stem = name.rsplit(".", 1)[0]
    m = CKPT_RE.match(stem + ".pt")
    return int(m.group(1)) if m else None


class HealRecord:
    """``RUN_DIR/heals.json``: the heals done so far and the next rung to try."""

    def __init__(self, path: Path):
        self.path = path
        self.heals: list[dict] = []
        self.next_rung = 0
        self.exhausted = False
        if path.is_file():
            try:
                d = json.loads(path.read_text())
                self.heals, self.next_rung = list(d.get("heals", [])), int(d.get("next_rung", 0))
                self.exhausted = bool(d.get("exhausted", False))
            except (json.JSONDecodeError, TypeError, ValueError):
                pass

    def save(self) -> None:
        data = {"heals": self.heals, "next_rung": self.next_rung, "exhausted": self.exhausted}
        atomic_write_bytes(self.path, lambda f: f.write(json.dumps(data, indent=2).encode()))


# ---------------------------------------------------------------------- the loop
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
    record = HealRecord(trainer.run.path / "heals.json")
    monitor = _monitor_of(trainer)
    monitor.branch = len(record.heals)
    monitor.echo = echo
    if record.exhausted:
        monitor.on_collapse = "warn"
    while True:
        try:
            result = trainer.fit()
            break
        except CollapseDetected as e:
            cause, anchor = e.event, e.anchor_step
        except DivergenceError as e:
            monitor = _monitor_of(trainer)
            if record.exhausted or len(record.heals) >= trainer.config.max_heals:
                raise
            cause = monitor.diverged_event or Event(DIVERGED, trainer.ctx.step, str(e))
            anchor = monitor.anchor_step
        healed = heal_once(trainer, cause, anchor, ladder, record, echo=echo)
        if healed is None:  # nothing left to try: carry on, only reporting
            monitor = _monitor_of(trainer)
            monitor.on_collapse = "warn"
            if cause.kind == DIVERGED:
                raise DivergenceError(cause.message)
            continue
        trainer = healed
    result = {**result, "heals": _heal_summary(record)}
    _write_heals_into_eval(trainer, record)
    return trainer, result


def heal_once(trainer, cause: Event, anchor_step: int | None, ladder: list[Rung], record: HealRecord,
              echo: bool = True):
    """One heal (see the module docstring). Returns the new trainer, or None when the
    budget or the ladder is used up (a ``heal`` event says so)."""
    from ..train import Trainer

    run, config = trainer.run, trainer.config
    old_monitor = _monitor_of(trainer)
    number = len(record.heals) + 1
    skipped: list[str] = []
    new_trainer, rung, change = None, None, ""
    if number <= config.max_heals:
        while record.next_rung < len(ladder):
            rung = ladder[record.next_rung]
            record.next_rung += 1
            try:
                applied = rung.apply(config)
                if applied is None:
                    skipped.append(f"{rung.text} (changes nothing here)")
                    continue
                new_config, change = applied
                monitor = MonitorCallback(branch=number, echo=echo, quiet_for=QUIET_CHECKS * old_monitor.every,
                                          every=old_monitor.every, n_samples=old_monitor.n_samples,
                                          n_reference=old_monitor.n_reference, warmup=old_monitor.monitor.warmup_steps,
                                          stall=old_monitor.monitor.stall_steps,
                                          feature_space=old_monitor.feature_builder,
                                          monitor_options=old_monitor.monitor_options)
                others = [cb for cb in trainer.callbacks
                          if not isinstance(cb, MonitorCallback) and not getattr(cb, "is_tensorboard", False)]
                new_trainer = Trainer(new_config, run.path, callbacks=[monitor, *others])
                break
            except ConfigError as e:
                skipped.append(f"{rung.text} ({e})")
                new_trainer = None
    if new_trainer is None:
        record.exhausted = True
        record.save()
        why = "the heal budget is spent" if number > config.max_heals else "the ladder is used up"
        event = Event(HEAL, trainer.ctx.step, f"no heal left ({why}, {len(record.heals)} done): "
                      f"training goes on and only reports", since=cause.since, branch=old_monitor.branch,
                      details={"heal": None, "exhausted": True, "cause": cause.kind, "skipped": skipped})
        old_monitor._emit(trainer, [event])
        return None

    step = anchor_step if anchor_step is not None else 0
    dest = run.path / "abandoned" / f"heal-{number}"
    anchor_path = run.checkpoint_path(anchor_step) if anchor_step is not None else None
    if anchor_path is not None and not anchor_path.is_file():
        anchor_path, step = None, 0
    state = load_checkpoint(anchor_path) if anchor_path is not None else None
    archive_branch(run, step, dest)
    if anchor_path is not None:
        shutil.copy2(anchor_path, dest / f"anchor-{anchor_path.name}")
    original = run.path / "config.original.yaml"
    if run.config.exists():
        shutil.copy2(run.config, dest / "config.yaml")  # the branch's own config, to open its checkpoint
        if not original.exists():
            shutil.copy2(run.config, original)
    new_trainer.config.save(run.config)
    if state is not None:
        notes = transplant(new_trainer, state)
        save_checkpoint(anchor_path, new_trainer.state_dict())
        monitor.anchor_step = step
    else:
        notes = ["no healthy checkpoint yet: restarted from step 0"]
        (run.path / "monitor_state.json").unlink(missing_ok=True)
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
               "lr_g": new_trainer.config.lr_g, "lr_d": new_trainer.config.lr_d, "archived": str(dest.relative_to(run.path))}
    event = Event(HEAL, step, message, list(cause.evidence), since=cause.since, branch=number, details=details)
    record.heals.append(details)
    record.save()
    append_events(run.events, [event])
    if echo:
        from tqdm.auto import tqdm

        tqdm.write(f"modeguard: {event}")
    return new_trainer


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
    from ..runs import start_run

    config = dataclasses.replace(config, on_collapse="heal")
    trainer = start_run(config, out, overwrite=overwrite, callbacks=callbacks)
    return heal_loop(trainer, echo=echo)
