"""``modeguard tune``: a Ray Tune search whose trials stop at a confirmed collapse.

Trials are drawn from a search file (:mod:`modeguard.tune.space`) at random or by Optuna,
scheduled by ASHA on :func:`~modeguard.tune.space.score`, and, with ``collapse_stop``, run
with the collapse monitor (``on_collapse: stop``) so a trial that lost its modes ends at the
confirmation instead of at its next ASHA rung or the end. Ray is imported only inside the
functions here (extra ``modeguard[ray]``).
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..bench.ray_backend import LOCAL_CPUS, import_ray, ray_session
from ..errors import ConfigError
from .space import Param, Search, load_search, trial_config
from .trial import run_trial

#: the per-trial columns of trials.csv / trials.md
TRIAL_COLUMNS = ["trial", "outcome", "step", "cpu_s", "modes", "modes_strict", "hq_pct", "rev_kl", "score", "config"]


@dataclass
class TuneResult:
    """What a search found: one row per trial (``TRIAL_COLUMNS``), the best trial's row,
    and the totals (trials, trial_steps, cpu_s, collapsed, stopped_by_asha, finished)."""

    trials: list[dict]
    best: dict | None
    totals: dict = field(default_factory=dict)


def tune_trial(sample: dict, search: Search, collapse_stop: bool) -> None:
    """The Tune trainable: one trial of ``search`` for the drawn ``sample``."""
    from ray import tune

    config = trial_config(search, sample, collapse_stop)
    run_trial(config, search.resolved().report_every, tune.report)


def param_space(search: Search) -> dict:
    """The search's space as Ray Tune domains (plain values stay fixed)."""
    from ray import tune

    makers = {"choice": lambda a: tune.choice(list(a)), "uniform": lambda a: tune.uniform(*a),
              "loguniform": lambda a: tune.loguniform(*a), "randint": lambda a: tune.randint(*a)}
    return {k: makers[p.kind](p.args) if isinstance(p, Param) else p for k, p in search.space.items()}


def searcher(search: Search):
    """The search algorithm: seeded random draws, or Optuna (ConfigError where it is missing)."""
    from ray.tune.search import BasicVariantGenerator

    if search.search == "random":  # it limits concurrency itself (Tune's max_concurrent_trials skips it)
        return BasicVariantGenerator(random_state=search.seed, max_concurrent=search.max_concurrent or 0)
    try:
        from ray.tune.search import ConcurrencyLimiter
        from ray.tune.search.optuna import OptunaSearch

        optuna = OptunaSearch(seed=search.seed)
    except (ImportError, AssertionError):
        raise ConfigError("search: optuna needs Optuna: pip install optuna") from None
    return ConcurrencyLimiter(optuna, search.max_concurrent) if search.max_concurrent else optuna


def progress_callback(total: int, enabled: bool):
    """A Tune callback moving a tqdm bar over ``total`` trials as they end (None if disabled)."""
    if not enabled:
        return None
    from ray.tune import Callback

    class TrialBar(Callback):
        def setup(self, **info):
            self.bar = tqdm(total=total, desc="trials", unit="trial", dynamic_ncols=True)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.bar.update()

        on_trial_error = on_trial_complete

        def on_experiment_end(self, trials, **info):
            self.bar.close()

    return TrialBar()


def run_tune(search: Search, out: str | Path, address: str | None = None, collapse_stop: bool | None = None,
             progress: bool = True, num_cpus: int = LOCAL_CPUS) -> TuneResult:
    """Run ``search`` on Ray (the cluster at ``address``, or a local one of ``num_cpus`` CPUs)
    and write ``out/trials.csv``, ``out/trials.md`` and ``out/summary.json``.

    collapse_stop: overrides the search's (stop trials at a confirmed collapse).
    Returns a :class:`TuneResult`. Raises ConfigError for a bad search, missing Ray or
    Optuna, or an unreachable cluster.
    """
    import_ray()
    search = search.resolved()
    collapse_stop = search.collapse_stop if collapse_stop is None else collapse_stop
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Tune's older console reporter honours verbose=0; the newer one prints its tables anyway
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with ray_session(address, num_cpus):
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler

        trainable = tune.with_resources(
            tune.with_parameters(tune_trial, search=search, collapse_stop=collapse_stop), {"cpu": 1})
        scheduler = ASHAScheduler(time_attr="step", max_t=search.steps, grace_period=search.grace_steps,
                                  reduction_factor=search.reduction_factor)
        callbacks = [c for c in [progress_callback(search.trials, progress)] if c is not None]
        tuner = tune.Tuner(
            trainable, param_space=param_space(search),
            tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler,
                                        search_alg=searcher(search), num_samples=search.trials,
                                        reuse_actors=True),
            run_config=tune.RunConfig(name="trials", storage_path=str(out / "ray"), verbose=0,
                                      callbacks=callbacks))
        grid = tuner.fit()
        trials = [trial_row(r, search.steps) for r in grid]
    result = summarise_trials(trials)
    write_trials(result, out, collapse_stop)
    return result


def trial_row(result, steps: int) -> dict:
    """One trial's row from a Ray Tune ``Result``: its last report and how it ended
    (``collapse``, ``finished``, ``asha`` (stopped for a low score) or ``error``)."""
    m = result.metrics or {}
    if result.error is not None:
        outcome = "error"
    elif m.get("collapsed"):
        outcome = "collapse"
    elif m.get("last") or m.get("step", 0) >= steps:  # ("done" is Tune's own: true for stopped trials too)
        outcome = "finished"
    else:
        outcome = "asha"
    row = {k: m.get(k) for k in TRIAL_COLUMNS if k in m}
    return {**row, "trial": m.get("trial_id") or Path(result.path).name, "outcome": outcome,
            "step": int(m.get("step", 0)), "cpu_s": float(m.get("cpu_s", 0.0)),
            "config": json.dumps(result.config, sort_keys=True)}


def summarise_trials(trials: list[dict]) -> TuneResult:
    """Totals over ``trials`` and the best one: the highest score among the trials that ran
    to the end (among all, where none did)."""
    finished = [t for t in trials if t["outcome"] == "finished"]
    pool = [t for t in (finished or trials) if t.get("score") is not None and not math.isnan(t["score"])]
    best = max(pool, key=lambda t: t["score"]) if pool else None
    count = {k: sum(t["outcome"] == k for t in trials) for k in ("collapse", "asha", "finished", "error")}
    totals = {"trials": len(trials), "trial_steps": sum(t["step"] for t in trials),
              "cpu_s": round(sum(t["cpu_s"] for t in trials), 1), "collapsed": count["collapse"],
              "stopped_by_asha": count["asha"], "finished": count["finished"], "errors": count["error"]}
    return TuneResult(trials, best, totals)


def _cell(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v if v is not None else "–")


def write_trials(result: TuneResult, out: Path, collapse_stop: bool) -> None:
    """``trials.csv`` (a row per trial), ``trials.md`` (the same, best first) and ``summary.json``."""
    with open(out / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, TRIAL_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.trials)
    ranked = sorted(result.trials, key=lambda t: -(t.get("score") if t.get("score") is not None else -math.inf))
    lines = ["| " + " | ".join(TRIAL_COLUMNS) + " |", "|" + "---|" * len(TRIAL_COLUMNS)]
    lines += ["| " + " | ".join(_cell(t.get(k)) for k in TRIAL_COLUMNS) + " |" for t in ranked]
    (out / "trials.md").write_text("\n".join(lines) + "\n")
    summary = {"collapse_stop": collapse_stop, **result.totals, "best": result.best}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


def compare_collapse_stopping(search: Search, out: str | Path, address: str | None = None,
                              progress: bool = True, num_cpus: int = LOCAL_CPUS) -> dict:
    """Run ``search`` twice, with and without collapse-aware stopping (same seed, same draws),
    into ``out/collapse-stop`` and ``out/no-collapse-stop``; write ``out/comparison.md``.

    Returns {"with": totals, "without": totals, "saved_steps_pct", "saved_cpu_pct",
    "same_best": whether both found the same configuration, "best_with", "best_without"}.
    """
    out = Path(out)
    runs = {arm: run_tune(search, out / name, address, collapse_stop=arm == "with", progress=progress,
                          num_cpus=num_cpus)
            for arm, name in (("with", "collapse-stop"), ("without", "no-collapse-stop"))}
    w, wo = runs["with"], runs["without"]
    best = {arm: r.best["config"] if r.best else None for arm, r in runs.items()}
    saved = {k: round(100.0 * (1 - w.totals[k] / wo.totals[k]), 1) if wo.totals[k] else 0.0
             for k in ("trial_steps", "cpu_s")}
    comparison = {"with": w.totals, "without": wo.totals, "saved_steps_pct": saved["trial_steps"],
                  "saved_cpu_pct": saved["cpu_s"], "same_best": best["with"] == best["without"],
                  "best_with": best["with"], "best_without": best["without"]}
    (out / "comparison.md").write_text(comparison_text(comparison))
    return comparison


def comparison_text(c: dict) -> str:
    """The comparison of :func:`compare_collapse_stopping` as a short Markdown table."""
    rows = [("collapse-aware stopping", c["with"]), ("without", c["without"])]
    text = ("| search | trials | trial-steps | CPU-s | stopped at collapse | stopped by ASHA | ran to the end |\n"
            "|---|---|---|---|---|---|---|\n")
    text += "".join(f"| {name} | {t['trials']} | {t['trial_steps']} | {t['cpu_s']} | {t['collapsed']} | "
                    f"{t['stopped_by_asha']} | {t['finished']} |\n" for name, t in rows)
    text += (f"\nSaved: {c['saved_steps_pct']}% of trial-steps, {c['saved_cpu_pct']}% of CPU-s. "
             f"Same best configuration: {'yes' if c['same_best'] else 'no'} "
             f"(with: {c['best_with']}; without: {c['best_without']}).\n")
    return text


def run_search_file(path: str | Path, out: str | Path, address: str | None = None, compare: bool = False,
                    collapse_stop: bool | None = None, num_cpus: int = LOCAL_CPUS, progress: bool = True) -> str:
    """What ``modeguard tune`` does: read the search file at ``path``, run it into ``out``
    (both ways with ``compare``) and return the text to print. Raises ConfigError."""
    search = load_search(path)
    out = Path(out)
    if compare:
        c = compare_collapse_stopping(search, out, address, progress=progress, num_cpus=num_cpus)
        return comparison_text(c) + f"\nresults: {out / 'comparison.md'}"
    result = run_tune(search, out, address, collapse_stop=collapse_stop, progress=progress, num_cpus=num_cpus)
    t = result.totals
    b = result.best
    best = (f"best: {b['config']} (score {b['score']:.3f}, {b.get('modes')} modes, {b.get('modes_strict')} strict, "
            f"rev-KL {_cell(b.get('rev_kl', math.inf))})" if b else "best: none (every trial failed)")
    return ((out / "trials.md").read_text() + f"\n{t['trials']} trials, {t['trial_steps']} trial-steps, "
            f"{t['cpu_s']} CPU-s: {t['collapsed']} stopped at a confirmed collapse, {t['stopped_by_asha']} by ASHA, "
            f"{t['finished']} ran to the end\n{best}\nresults: {out / 'trials.csv'}  {out / 'summary.json'}")
