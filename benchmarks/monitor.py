"""How well the collapse monitor detects collapse, what it costs, and whether healing heals.

Three measurements, one training process at a time, one torch thread:

``detect``: runs on mixtures with ground truth, the monitor in ``warn`` mode at its
default settings (a check every steps // 50). At every check a separate judge samples
2,500 points (another seed) and counts the *strict* modes (>= 20 high-quality samples,
the protocol's strict count). From that series:

- a run **collapsed** when its true mode count *fell* (below the best it had held for two
  checks, that best being at least half the modes, for two checks in a row: the collapse
  begins at the first of them) or when it ends with fewer than all modes (it never
  covered them, or lost them);
- a collapse is **flagged** when the monitor confirmed a collapse (``collapse_confirmed``);
  for falls we report the steps from the fall to the confirmation;
- a run is **healthy** when it ends with every mode and its count never fell; any
  confirmation on it is a **false alarm**.

``detect --induce STEP`` breaks a healthy run on purpose at STEP (every learning rate x10,
penalties off), to measure how fast a *fall* from a healthy level is flagged.

``overhead``: the monitor's own time (sampling, features, metrics, decisions) against the
run's training time, from the same runs.

``heal``: ``modeguard train --data D --strategy none --on-collapse heal`` per seed: the
final mode count, the heals done and the wall time.

    python benchmarks/monitor.py detect --runs ring8:none:0,1,2 ring8:recipe:0 grid25:none:0
    python benchmarks/monitor.py heal --data ring8 --seeds 0,1,2
    python benchmarks/monitor.py summary      # tables from the results files

Results are appended (one JSON line per run) to ``benchmarks/results/monitor-*.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from modeguard.config import TrainConfig
from modeguard.data import resolve_data
from modeguard.metrics import mode_coverage
from modeguard.monitor.features import LABEL_FREE_SPACES, classifier_space, feature_space
from modeguard.monitor import CollapseMonitor
from modeguard.monitor.callback import MODE_SAMPLES, STALL_SHARE, WARMUP_SHARE, MonitorCallback
from modeguard.train import Callback, Trainer

RESULTS = Path(__file__).parent / "results"
STRICT = 20
STACKED_SAMPLES, STACKED_MIN = 10000, 1
#: the stacked-digits protocol of ``benchmarks/stacked.py`` at its defaults (DCGAN width 32,
#: z 64, batch 64, 10k steps, lr 2e-4), where the plain GAN collapses (68 of 1000 modes)
STACKED = {"model": "dcgan", "batch_size": 64, "steps": 10000, "lr_g": 2e-4, "lr_d": 2e-4, "eval_samples": 26000,
           "model_options": {"channels": 32, "z_dim": 64}}


class Judge(Callback):
    """Ground truth at every monitor check. Mixtures: the strict mode count of 2,500 samples.
    Stacked sets: the distinct label triples (mode classifier, channel by channel) of 10,000
    samples, the protocol's mode count on fewer samples (a perfect generator scores 1000)."""

    def __init__(self, every: int):
        self.every, self.series, self.seconds = every, [], 0.0
        self.labeller = None

    def count(self, trainer) -> int:
        data = trainer.ctx.data
        if getattr(data, "stacked", False):
            if self.labeller is None:
                self.labeller = classifier_space(data).featurize
            _, modes = self.labeller(trainer.sample(STACKED_SAMPLES, seed=999))
            return int((np.bincount(modes, minlength=data.num_modes) >= STACKED_MIN).sum())
        x = trainer.sample(2500, seed=999)
        m = mode_coverage(x, data.modes.centers, data.modes.std, data.modes.weights, strict_min=STRICT)
        return m["modes_strict"]

    def on_step_end(self, trainer):
        if trainer.ctx.step % self.every:
            return
        t0 = time.perf_counter()
        self.series.append((trainer.ctx.step, self.count(trainer)))
        self.seconds += time.perf_counter() - t0


def tolerance(k: int) -> int:
    """Modes a run may lose and still count as whole: none for mixtures; 5% of a stacked set's
    1000 (a perfect generator's count already wanders by a few)."""
    return 0 if k <= 100 else round(0.05 * k)


def truth(series: list[tuple[int, int]], k: int) -> dict:
    """Collapse facts of a (step, strict modes) series; see the module docstring. A fall
    counts from a held level of at least half the modes (below that the run never
    covered the data, and its count only wanders)."""
    tol = tolerance(k)
    best, fall_at, reached = -1, None, False
    for i in range(1, len(series)):
        held = min(series[i][1], series[i - 1][1])
        nxt = series[i + 1][1] if i + 1 < len(series) else series[i][1]
        if fall_at is None and best >= max(1, k / 2) and series[i][1] < best - tol and nxt < best - tol:
            fall_at = series[i][0]
        best = max(best, held)
        reached |= series[i][1] >= k - tol
    final = series[-1][1] if series else 0
    collapsed = fall_at is not None or final < k - tol
    return {"fall_at": fall_at, "final_strict": final, "best_strict": max(best, 0), "reached_all": reached,
            "collapsed": collapsed, "healthy": not collapsed}


class Induce(Callback):
    """Forces a collapse into a healthy run: at ``step``, every learning rate x10 and every
    penalty weight (``gamma``) set to 0 (the known way to break a GAN that works)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer):
        if trainer.ctx.step != self.step:
            return
        for opt in (trainer.ctx.opt_g, trainer.ctx.opt_d):
            for group in opt.param_groups:
                group["lr"] *= 10
        for s in trainer.ctx.strategies:
            if "gamma" in s.opts:
                s.opts["gamma"] = 0.0


def strategies_of(name: str) -> str:
    return "default" if name == "recipe" else name  # the recipe for the data's kind


def protocol(data: str, steps: int | None = None, lr: float | None = None) -> dict:
    """Config values of the data's protocol, with --steps / --lr where given."""
    base = dict(STACKED) if data.startswith("stacked") else {}
    if steps is not None:
        base["steps"] = steps
    if lr is not None:
        base["lr_g"] = base["lr_d"] = lr
    return base


def detect_one(data: str, strategies: str, seed: int, steps: int | None, induce: int | None = None,
               lr: float | None = None, spaces: list[str] | None = None) -> list[dict]:
    """One run watched by the default monitor and by one more monitor per named label-free
    space in ``spaces`` (labels withheld from them; the judge keeps its labels). One row per
    monitor; the label-free rows carry ``space``."""
    torch.set_num_threads(1)
    base = protocol(data, steps, lr)
    config = TrainConfig(**{"data": data, "strategies": strategies_of(strategies), "seed": seed, "progress": False,
                            "sample_every": 10**9, "ckpt_every": 10**9, "on_collapse": "warn", **base})
    total = config.resolved_steps()
    monitors = {None: MonitorCallback(echo=False),  # the default monitor, with labels where the data has them
                **{name: MonitorCallback(echo=False, feature_space=LABEL_FREE_SPACES[name]) for name in spaces or ()}}
    judge = Judge(max(1, total // 50))
    extra = [Induce(induce)] if induce else []
    trainer = Trainer(config, None, callbacks=[*extra, *monitors.values(), judge])
    t0 = time.perf_counter()
    result = trainer.fit()
    wall = time.perf_counter() - t0
    data_ = trainer.ctx.data
    k = data_.num_modes if getattr(data_, "stacked", False) else len(data_.modes.centers)
    facts = truth(judge.series, k)
    train_s = wall - sum(m.seconds for m in monitors.values()) - judge.seconds
    return [{"data": data, "strategies": strategies + (f" (broken at {induce})" if induce else ""), "seed": seed,
             "steps": total, "lr": trainer.config.lr_g, "modes_final": result["modes"],
             "modes_strict_final": result.get("modes_strict"), "k": k, **facts,
             **({"space": name} if name else {}), **monitor_facts(monitor, facts, train_s),
             "final_metrics": {k: v for k, v in result.items() if isinstance(v, (int, float))},
             "train_s": round(train_s, 2), "truth_series": judge.series} for name, monitor in monitors.items()]


def monitor_facts(monitor: MonitorCallback, facts: dict, train_s: float) -> dict:
    """What one monitor said about a run: confirmations, events, readings, its cost."""
    confirmed = [e for e in monitor.events if e.kind == "collapse_confirmed"]
    after_fall = [e for e in confirmed if facts["fall_at"] is not None and e.step >= facts["fall_at"]]
    return {"confirmed_steps": [e.step for e in confirmed], "flagged": bool(confirmed),
            "fall_flagged_after": (after_fall[0].step - facts["fall_at"]) if after_fall else None,
            "events": [f"{e.kind}@{e.step}" for e in monitor.events],
            "event_messages": [e.message for e in monitor.events],
            "readings": [[h["step"], *(h.get(f) for f in ("modes", "diversity", "coverage"))]
                         for h in monitor.monitor.history],
            "monitor_s": round(monitor.seconds, 2),
            "overhead_pct": round(100 * monitor.seconds / max(train_s, 1e-9), 2), "checks": monitor.checks}


def heal_one(data: str, seed: int, steps: int | None, out: Path, lr: float | None = None) -> dict:
    from modeguard.cli import main

    shutil.rmtree(out, ignore_errors=True)
    argv = ["train", "--data", data, "--strategy", "none", "--seed", str(seed), "--on-collapse", "heal",
            "--out", str(out), "--no-progress"]
    if protocol(data, steps, lr):  # model, batch, steps and rates of the protocol, as a --config file
        out.parent.mkdir(parents=True, exist_ok=True)
        config_file = out.parent / f"{out.name}.protocol.yaml"
        config_file.write_text(yaml.safe_dump(protocol(data, steps, lr)))
        argv += ["--config", str(config_file)]
    t0 = time.perf_counter()
    code = main(argv)
    wall = time.perf_counter() - t0
    saved = json.loads((out / "eval.json").read_text()) if (out / "eval.json").is_file() else {}
    return {"data": data, "seed": seed, "exit": code, "protocol": protocol(data, steps, lr), "modes": saved.get("modes"), "modes_strict": saved.get("modes_strict"),
            "hq_pct": saved.get("hq_pct"), "rev_kl": saved.get("rev_kl"), "kl": saved.get("kl"), "heals": saved.get("heals", []),
            "final_strategies": saved.get("strategies"), "seconds": round(wall, 1)}


def _append(name: str, row: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / name, "a") as f:
        f.write(json.dumps(row) + "\n")


def _rows(name: str) -> list[dict]:
    path = RESULTS / name
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def latest_runs(rows: list[dict]) -> list[dict]:
    """The last row of each (data, strategies, seed): a run measured again (under later
    defaults) replaces its earlier row; the results file keeps every row."""
    latest = {(r["data"], r["strategies"], r["seed"]): r for r in rows}
    return list(latest.values())


def summary() -> str:
    lines = []
    runs = latest_runs(_rows("monitor-detect.jsonl"))
    replay([r for r in runs if r["data"].startswith("stacked")])
    for r in runs:  # the definitions live here, not in the stored rows
        r.update(truth([tuple(x) for x in r["truth_series"]], r["k"]))
        after = [s for s in r["confirmed_steps"] if r["fall_at"] is not None and s >= r["fall_at"]]
        r["fall_flagged_after"] = after[0] - r["fall_at"] if after else None
    if runs:
        lines += ["| data | strategies | steps | lr | runs | collapsed (flagged) | healthy (false alarms) | "
                  "falls flagged, steps after | monitor time / training time |", "|---|---|---|---|---|---|---|---|---|"]
        groups: dict[tuple, list] = {}
        for r in runs:
            groups.setdefault((r["data"], r["strategies"], r["steps"], r.get("lr")), []).append(r)
        for (data, strategies, steps, lr), rs in groups.items():
            col = [r for r in rs if r["collapsed"]]
            ok = [r for r in rs if r["healthy"]]
            falls = [r for r in rs if r["fall_at"] is not None]
            delays = [r["fall_flagged_after"] for r in falls if r["fall_flagged_after"] is not None]
            lines.append(f"| {data} | {strategies} | {steps} | {lr if lr is not None else '-'} | {len(rs)} | {len(col)} ({sum(r['flagged'] for r in col)}) | "
                         f"{len(ok)} ({sum(r['flagged'] for r in ok)}) | "
                         + (f"{len(delays)}/{len(falls)}" + (f", median {statistics.median(delays):.0f}" if delays else "")
                            if falls else "-")
                         + f" | {statistics.median(r['overhead_pct'] for r in rs):.1f}% |")
        lines.append("")
        lines += ["| data | strategies | seed | true strict modes (best -> final) | fell at | monitor confirmed at | "
                  "verdict | overhead |", "|---|---|---|---|---|---|---|---|"]
        for r in runs:
            verdict = ("collapse, flagged" if r["collapsed"] and r["flagged"] else
                       "collapse, MISSED" if r["collapsed"] else
                       "healthy, FALSE ALARM" if r["flagged"] else "healthy, quiet")
            lines.append(f"| {r['data']} | {r['strategies']} | {r['seed']} | {r['best_strict']} -> {r['final_strict']}"
                         f"/{r['k']} | {r['fall_at'] or '-'} | {', '.join(map(str, r['confirmed_steps'])) or '-'} | "
                         f"{verdict} | {r['overhead_pct']:.1f}% |")
        collapsed = [r for r in runs if r["collapsed"]]
        healthy = [r for r in runs if r["healthy"]]
        falls = [r for r in runs if r["fall_at"] is not None]
        delays = [r["fall_flagged_after"] for r in falls if r["fall_flagged_after"] is not None]
        lines += ["", f"collapses flagged: {sum(r['flagged'] for r in collapsed)}/{len(collapsed)}; "
                      f"falls flagged after the fall: {len(delays)}/{len(falls)}"
                      + (f" (median {statistics.median(delays):.0f} steps after)" if delays else "")
                      + f"; false alarms: {sum(r['flagged'] for r in healthy)}/{len(healthy)} healthy runs; "
                      f"monitor overhead: median {statistics.median(r['overhead_pct'] for r in runs):.1f}% of "
                      f"training time (max {max(r['overhead_pct'] for r in runs):.1f}%)"]
    lines += unlabelled_summary(_rows("monitor-detect-unlabelled.jsonl"))
    heals = _rows("monitor-heal.jsonl")
    if heals:
        lines += ["", "| data | seed | final modes (strict) | HQ % or KL | heals | final strategies | seconds |",
                  "|---|---|---|---|---|---|---|"]
        for h in heals:
            what = "; ".join(f"{x['cause'].split('_')[-1]}@{x['cause_step']} -> {x['change']}" for x in h["heals"]) or "-"
            quality = f"HQ {h['hq_pct']:.1f}" if h.get("hq_pct") is not None else f"KL {h.get('kl') or float('nan'):.3f}"
            lines.append(f"| {h['data']} | {h['seed']} | {h['modes']} ({h['modes_strict']}) | {quality} | "
                         f"{what} | {','.join(h['final_strategies'] or []) or 'none'} | {h['seconds']:.0f} |")
    return "\n".join(lines)


def replay(rows: list[dict]) -> None:
    """Re-decide each row (label-free, or stacked digits with labels; mixture rows also need
    their HQ readings, which are not stored) from its stored readings under the monitor's current rules
    (``confirmed_steps`` / ``flagged`` replaced): the readings are the measurements, the rules
    are what changes. A replay reproduces a fresh run's decisions exactly (same readings, same
    deterministic rules), so rows recorded under older rules stay comparable."""
    defaults = MonitorCallback()  # the sample sizes and reference seed the stored runs used
    spaces: dict[tuple, tuple] = {}
    for r in rows:
        key = (r["data"], r.get("space"))
        if key not in spaces:
            data = resolve_data(r["data"])
            space = LABEL_FREE_SPACES[r["space"]](data) if "space" in r else feature_space(data)
            reference = data.reference(defaults.n_reference, seed=defaults.reference_seed)
            spaces[key] = (space, space.featurize(reference)[0])
        space, reference = spaces[key]
        total = r["steps"]
        mon = CollapseMonitor(reference, **space.monitor_kwargs(), warmup_steps=int(WARMUP_SHARE * total),
                              stall_steps=int(STALL_SHARE * total), total_steps=total)
        n = max(defaults.n_samples, MODE_SAMPLES * (space.num_modes or 0))  # as the callback draws them
        confirmed = []
        for step, modes, diversity, coverage in r["readings"]:
            figures = {"n": n, "diversity": diversity, "coverage": coverage,
                       **({"modes": modes} if modes is not None else {})}
            confirmed += [e.step for e in mon.observe(step, figures) if e.kind == "collapse_confirmed"]
        r["confirmed_steps"], r["flagged"] = confirmed, bool(confirmed)


def unlabelled_summary(rows: list[dict]) -> list[str]:
    """Per label-free space: collapses flagged (of those the labelled judge saw), false alarms
    on healthy runs, when the first confirmation came (share of the run), monitor time
    (decisions replayed under the current rules, :func:`replay`)."""
    if not rows:
        return []
    replay(rows)
    for r in rows:
        r.update(truth([tuple(x) for x in r["truth_series"]], r["k"]))
    lines = ["", "Labels withheld from the monitor (`detect --spaces ...`; the judge keeps them; decisions "
             "replayed from the stored readings under the current rules):", "",
             "| space | runs | collapses flagged | false alarms (healthy runs) | first confirmation, share of the run "
             "(median, max) | monitor time / training time (median, max) |", "|---|---|---|---|---|---|"]
    spaces: dict[str, list] = {}
    for r in rows:
        spaces.setdefault(r["space"], []).append(r)
    for space, rs in spaces.items():
        col, ok = [r for r in rs if r["collapsed"]], [r for r in rs if r["healthy"]]
        first = [r["confirmed_steps"][0] / r["steps"] for r in col if r["confirmed_steps"]]
        when = f"{statistics.median(first):.0%}, {max(first):.0%}" if first else "-"
        cost = [r["overhead_pct"] for r in rs]
        lines.append(f"| {space} | {len(rs)} | {sum(r['flagged'] for r in col)}/{len(col)} | "
                     f"{sum(r['flagged'] for r in ok)}/{len(ok)} | {when} | "
                     f"{statistics.median(cost):.1f}%, {max(cost):.1f}% |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("detect")
    d.add_argument("--runs", nargs="+", required=True, help="DATA:STRATEGIES:SEEDS, e.g. ring8:none:0,1 "
                                                            "(STRATEGIES 'recipe' = the default recipe; '+' joins)")
    d.add_argument("--steps", type=int, default=None)
    d.add_argument("--lr", type=float, default=None, help="both learning rates (default: the protocol's)")
    d.add_argument("--induce", type=int, default=None,
                   help="force a collapse at this step (lr x10, penalties off) to measure detection of a fall")
    d.add_argument("--spaces", default=None,
                   help="comma-separated label-free spaces whose monitors watch beside the default one "
                        f"(labels withheld; rows go to monitor-detect-unlabelled.jsonl): {', '.join(LABEL_FREE_SPACES)}")
    h = sub.add_parser("heal")
    h.add_argument("--data", default="ring8")
    h.add_argument("--seeds", default="0,1,2")
    h.add_argument("--steps", type=int, default=None)
    h.add_argument("--lr", type=float, default=None, help="both learning rates (default: the protocol's)")
    h.add_argument("--out", default="/tmp/modeguard-heal-bench")
    sub.add_parser("summary")
    args = p.parse_args()
    if args.cmd == "detect":
        spaces = args.spaces.split(",") if args.spaces else None
        for spec in args.runs:
            data, rest = spec.split(":", 1)
            strategies, seeds = rest.rsplit(":", 1)
            for seed in map(int, seeds.split(",")):
                for row in detect_one(data, strategies.replace("+", ","), seed, args.steps, args.induce, args.lr,
                                      spaces):
                    _append("monitor-detect-unlabelled.jsonl" if "space" in row else "monitor-detect.jsonl", row)
                    print(json.dumps({k: v for k, v in row.items() if k not in ("truth_series", "readings")}),
                          flush=True)
    elif args.cmd == "heal":
        for seed in map(int, args.seeds.split(",")):
            row = heal_one(args.data, seed, args.steps, Path(args.out) / f"{args.data}-seed{seed}", args.lr)
            _append("monitor-heal.jsonl", row)
            print(json.dumps(row), flush=True)
    text = summary()
    (RESULTS / "monitor-summary.md").write_text(
        "# Collapse monitor: detection and healing (`python benchmarks/monitor.py summary`)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
