"""``modeguard doctor RUN_DIR``: what happened to a run, in plain words.

Reads whatever the run left (finished, stopped, crashed or still going): ``config.yaml``,
``metrics.jsonl``, ``evals.jsonl`` (mode metrics at each sample snapshot),
``monitor.jsonl`` / ``events.jsonl`` (the collapse monitor), ``heals.json`` and the
abandoned branches of a healed run, ``eval.json``, and the checkpoints. Where the data
has known modes it samples every checkpoint and names the modes lost between the best
one and the latest. Then it says what to try.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import TrainConfig
from ..jsonl import read_jsonl
from ..train.checkpoint import RunDir
from .events import COLLAPSE_CONFIRMED, COLLAPSE_SUSPECTED, D_OVERPOWERING, DIVERGED, HEAL, RECOVERED, STOPPED, read_events

#: a run whose logs changed this recently counts as still going
RUNNING_WITHIN_S = 120


@dataclass
class CheckpointModes:
    """Mode metrics of one checkpoint's samples."""

    step: int
    branch: str  # "main" or "abandoned/heal-K"
    modes: int
    counts: list[int] | None
    hq_pct: float | None = None


@dataclass
class Diagnosis:
    run: str
    status: str
    step: int
    total_steps: int
    verdict: str
    collapsed: bool
    collapsed_at: int | None = None
    evidence: list[str] = field(default_factory=list)
    lost_modes: list[str] = field(default_factory=list)
    heals: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    checkpoints: list[CheckpointModes] = field(default_factory=list)
    num_modes: int | None = None
    final: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        lines = [f"run {self.run}: {self.status}, step {self.step} of {self.total_steps}", "", self.verdict]
        sections = [("Evidence", self.evidence), ("Modes lost", self.lost_modes), ("Healing", self.heals),
                    ("Timeline", self.timeline), ("What to try", self.advice)]
        for title, items in sections:
            if items:
                lines += ["", f"{title}:"] + [f"  - {x}" for x in items]
        return "\n".join(lines)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except json.JSONDecodeError:
        return None


def _status(run: RunDir, total: int, last_step: int, events) -> str:
    if any(e.kind == STOPPED for e in events):
        return "stopped by the monitor (--on-collapse stop)"
    if run.eval_json.is_file() and last_step >= total:
        return "finished"
    newest = max((p.stat().st_mtime for p in run.path.glob("*.jsonl")), default=0.0)
    if newest and time.time() - newest < RUNNING_WITHIN_S:
        return "still running"
    if any(e.kind == DIVERGED for e in events):
        return "crashed (training diverged)"
    return "crashed or interrupted (no final evaluation); resume with 'modeguard train --resume'"


def diagnose(run_dir: str | Path, sample_checkpoints: bool = True, n: int = 2500) -> Diagnosis:
    """Read a run directory and explain it (see the module docstring)."""
    run = RunDir(run_dir).require()
    config = TrainConfig.load(run.config)
    total = config.resolved_steps()
    metrics = read_jsonl(run.metrics)
    monitor_rows = read_jsonl(run.path / "monitor.jsonl")
    evals = read_jsonl(run.path / "evals.jsonl")
    events = read_events(run.events)
    abandoned = sorted((run.path / "abandoned").glob("heal-*"), key=lambda p: int(p.name.split("-")[1]))
    old_events = [e for d in abandoned for e in read_events(d / "events.jsonl")]
    heals = (_read_json(run.path / "heals.json") or {}).get("heals", [])
    final = _read_json(run.eval_json) or {}
    last_step = max([r.get("step", 0) for r in metrics + monitor_rows] + [s for s, _ in run.checkpoints()] + [0])
    status = _status(run, total, last_step, events)

    from ..data import resolve_data

    data = resolve_data(config.data)
    num_modes = len(data.modes.centers) if data.modes is not None else getattr(data, "num_modes", None)
    mode_name = _mode_namer(data)

    d = Diagnosis(str(run.path), status, last_step, total, "", False, num_modes=num_modes,
                  final={k: v for k, v in final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if sample_checkpoints and data.modes is not None:
        d.checkpoints = _checkpoint_modes(run, abandoned, n)

    # ---- the story, in time order (abandoned branches first: they happened before their heal)
    for e in sorted(old_events + events, key=lambda e: (e.branch, e.step)):
        if e.kind in (COLLAPSE_CONFIRMED, RECOVERED, DIVERGED, D_OVERPOWERING, STOPPED, HEAL):
            where = f" (branch {e.branch}, later abandoned)" if any(e is o for o in old_events) else ""
            d.timeline.append(f"step {e.step}{where}: {e.message}")

    confirmed = [e for e in old_events + events if e.kind == COLLAPSE_CONFIRMED]
    live_confirmed = [e for e in events if e.kind == COLLAPSE_CONFIRMED]
    recovered_after = [e for e in events if e.kind == RECOVERED and live_confirmed and e.step > live_confirmed[-1].step]
    open_collapse = bool(live_confirmed) and not recovered_after
    diverged = [e for e in events if e.kind == DIVERGED]
    overpower = [e for e in old_events + events if e.kind == D_OVERPOWERING]
    suspected = [e for e in events if e.kind == COLLAPSE_SUSPECTED]

    # ---- modes: from the monitor's readings, the snapshots, the checkpoints, the final eval
    final_modes = final.get("modes")
    best_eval = max(evals, key=lambda r: (r.get("modes", -1), -r.get("step", 0)), default=None)
    slack = allowed_missing(num_modes)
    fell = best_eval is not None and evals and evals[-1].get("modes", 0) < best_eval.get("modes", 0) - slack
    never_all = num_modes is not None and final_modes is not None and final_modes < num_modes - slack

    d.collapsed = bool(open_collapse or fell or never_all)
    if confirmed:
        d.collapsed_at = (live_confirmed or confirmed)[-1].since
    elif fell:
        d.collapsed_at = next(r["step"] for r in evals if r["step"] > best_eval["step"]
                              and r.get("modes", 0) < best_eval["modes"] - slack)

    for e in (live_confirmed or confirmed)[-1:]:
        before = "before the heal: " if not live_confirmed else ""
        for ev in e.evidence:
            d.evidence.append(f"{before}{ev.describe()} (at step {e.step})")
    if fell:
        d.evidence.append(f"mode count at the sample snapshots fell from {best_eval['modes']} (step "
                          f"{best_eval['step']}) to {evals[-1]['modes']} (step {evals[-1]['step']})")
    if final_modes is not None and num_modes is not None:
        hq = f", {final['hq_pct']:.1f}% high quality" if "hq_pct" in final else ""
        d.evidence.append(f"final evaluation: {final_modes}/{num_modes} modes{hq}")
    if monitor_rows and not d.evidence:
        last = monitor_rows[-1]
        if "modes" in last:
            d.evidence.append(f"last monitor reading (step {last['step']}): {int(last['modes'])} modes alive, "
                              f"coverage {last.get('coverage', float('nan')):.2f}")
    d.lost_modes = _lost_modes(d.checkpoints, monitor_rows, mode_name, slack)

    for h in heals:
        d.heals.append(f"heal {h['heal']}: {h['cause'].replace('_', ' ')} at step {h['cause_step']} -> rolled back "
                       f"to step {h['rolled_back_to']}, {h['change']}" + (f" ({'; '.join(h['notes'])})" if h.get("notes") else ""))
    if any(e.kind == HEAL and e.details.get("exhausted") for e in events):
        d.heals.append("no heal left after that: the run went on without healing")

    # ---- the verdict
    ends = f"{final_modes}/{num_modes} modes" if final_modes is not None and num_modes else None
    when = f" from step {d.collapsed_at}" if d.collapsed_at is not None else ""
    if diverged and not heals:
        d.verdict = f"Training diverged at step {diverged[-1].step}: the losses became non-finite."
    elif heals:
        n_heals = f"{len(heals)} heal{'s' * (len(heals) > 1)}"
        if d.collapsed:
            d.verdict = (f"The run collapsed and was healed ({n_heals}), but it is still collapsed"
                         + (f": it ends with {ends}." if ends else "."))
        else:
            d.verdict = (f"The run collapsed and was healed ({n_heals}); "
                         + (f"it ends with {ends}." if ends else "it has not finished yet."))
    elif open_collapse or fell:
        d.verdict = f"The run collapsed{when} and did not recover" + (f": it ends with {ends}." if ends else ".")
    elif never_all:
        d.verdict = f"The run never covered every mode: it ends with {ends} (a partial collapse{when})."
    elif live_confirmed and recovered_after:
        d.verdict = (f"The run collapsed at step {live_confirmed[-1].since} but recovered by step "
                     f"{recovered_after[0].step}" + (f"; it ends with {ends}." if ends else "."))
    elif not monitor_rows and not evals:
        d.verdict = "No collapse figures were recorded yet (no monitor readings, no sample snapshots)."
    else:
        d.verdict = "No collapse seen" + (f" ({ends})." if ends else ".") + (
            f" The monitor raised {len(suspected)} suspicion(s) that cleared." if suspected else "")
    d.advice = _advice(config, d, bool(diverged), bool(overpower), bool(monitor_rows), heals)
    return d


def _mode_namer(data):
    """How to name mode i (no classifier is built for this)."""
    from .features import point_space

    if data.modes is not None:
        return point_space(data).mode_name
    if getattr(data, "stacked", False):
        classes, channels = int(data.channel_classes), int(data.shape[0])
        return lambda i: "triple " + "-".join(str((i // classes ** p) % classes) for p in range(channels - 1, -1, -1))
    if getattr(data, "labelled", False):
        return lambda i: f"class {i}"
    return None


def _checkpoint_modes(run: RunDir, abandoned: list[Path], n: int) -> list[CheckpointModes]:
    """Mode metrics of every checkpoint: the main timeline and each abandoned branch's."""
    from ..train import Trainer

    out = []
    sources = [(run.path, run.checkpoints(), "main")]
    for d in abandoned:
        found = sorted(d.glob("checkpoints/step-*.pt")) + sorted(d.glob("anchor-step-*.pt"))
        sources.append((d, [(int(p.stem.split("-")[-1]), p) for p in found], f"abandoned/{d.name}"))
    for config_dir, ckpts, label in sources:
        if not (config_dir / "config.yaml").is_file():
            continue
        for step, path in ckpts:
            try:
                trainer = Trainer.open(config_dir, checkpoint=path, progress=False, monitor_every=0,
                                       on_collapse="warn", tensorboard=False)
                r = trainer.evaluate(samples=trainer.sample_model_space(n, seed=0), prdc=False)
            except Exception:  # an unreadable checkpoint says nothing about modes
                continue
            out.append(CheckpointModes(step, label, int(r.get("modes", 0)), r.get("counts"), r.get("hq_pct")))
    return out


def allowed_missing(num_modes: int | None) -> int:
    """Modes a run may miss and still have them all: none of a few; 1% of many (of 1000 label
    triples a complete generator still misses one or two by chance in 26,000 samples)."""
    return 0 if not num_modes or num_modes <= 100 else math.ceil(0.01 * num_modes)


#: modes listed by name at most (with many modes the rest are counted)
MAX_LISTED = 20


def _lost_modes(ckpts: list[CheckpointModes], monitor_rows: list[dict], mode_name, slack: int = 0) -> list[str]:
    """Modes present at the best point and (nearly) absent at the latest one, when the count
    fell by more than ``slack``."""
    name = mode_name or (lambda i: f"mode {i}")
    main = [c for c in ckpts if c.branch == "main" and c.counts is not None]
    if len(main) >= 2:
        best = max(main, key=lambda c: (c.modes, c.step))
        now = main[-1]
        if now.modes < best.modes - slack:
            return _compare(best.counts, now.counts, name, f"step {best.step}", f"step {now.step}")
    rows = [r for r in monitor_rows if r.get("mode_counts")]
    if len(rows) >= 2:
        best = max(rows, key=lambda r: (r.get("modes", 0), r["step"]))
        now = rows[-1]
        if now.get("modes", 0) < best.get("modes", 0) - slack:
            return _compare(best["mode_counts"], now["mode_counts"], name, f"step {best['step']}", f"step {now['step']}")
    return []


def _compare(best: list[int], now: list[int], name, when_best: str, when_now: str) -> list[str]:
    total_b, total_n = max(sum(best), 1), max(sum(now), 1)
    lost = []
    for i, (b, c) in enumerate(zip(best, now)):
        # lost: it had a fair share then (and 10 samples at least: fewer can vanish by chance),
        # under a tenth of that share now
        if b >= 10 and b / total_b >= 0.2 / len(best) and c / total_n < 0.1 * b / total_b:
            lost.append((b, i, f"{name(i)}: {b} samples at {when_best}, {c} at {when_now}"))
    top = sorted(lost, key=lambda x: -x[0])[:MAX_LISTED]  # the biggest losses, in mode order
    shown = [text for _, _, text in sorted(top, key=lambda x: x[1])]
    if len(lost) > MAX_LISTED:
        shown.append(f"... and {len(lost) - MAX_LISTED} more")
    return shown


def _advice(config: TrainConfig, d: Diagnosis, diverged: bool, overpower: bool, monitored: bool,
            heals: list[dict]) -> list[str]:
    from ..strategies import parse_strategies
    from .heal import parse_ladder

    have = {s.name for s in parse_strategies(config.strategies)}
    out = []
    if diverged:
        out.append(f"lower the learning rates (e.g. --lr-g {config.lr_g / 2:g} --lr-d {config.lr_d / 2:g}) "
                   "and add a penalty on D: --strategy ...,r1 or spectral-norm")
    if overpower:
        out.append("D overpowers G: lower lr_d, or add label-smoothing / instance-noise so D cannot separate "
                   "reals and fakes perfectly")
    if d.collapsed:
        if config.on_collapse != "heal":
            out.append(f"let ModeGuard heal it: modeguard train --data {config.data} ... --on-collapse heal "
                       "(rolls back to the last healthy checkpoint and adds strategies)")
        elif heals:
            out.append(f"healing did not finish the job: allow more heals (--max-heals {config.max_heals + 2}) "
                       "or a longer ladder (heal_ladder in a --config file)")
        rungs = [r.text for r in parse_ladder(None)]
        missing = [t for t in rungs if "*" not in t and t != "recipe" and t.split(":")[0] not in have]
        if "r1" not in have:
            missing.insert(0, "r1")
        if missing:
            current = ",".join(s.spec_string() for s in parse_strategies(config.strategies))
            sep = "," if current else ""
            out.append(f"or train again with more strategies, e.g. --strategy {current}{sep}{missing[0]}")
        if not have:
            out.append("the plain GAN (--strategy none) collapses easily: the recommended recipe for this data is "
                       "what 'modeguard train' uses without --strategy")
    hq = d.final.get("hq_pct")
    if hq is not None and hq < 90 and not diverged:
        out.append(f"only {hq:.0f}% of the samples are high quality (within 3 std of a mode): train longer "
                   f"(--steps {2 * d.total_steps}) or lower the learning rates")
    if not monitored:
        out.append("watch the next run live: --monitor-every N (or --on-collapse warn|stop|heal)")
    if not out:
        out.append("nothing to fix; 'modeguard report' draws the curves")
    return out


def doctor_text(run_dir: str | Path, sample_checkpoints: bool = True) -> str:
    return diagnose(run_dir, sample_checkpoints).text()
