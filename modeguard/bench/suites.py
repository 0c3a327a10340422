"""Benchmark suites: (strategy set) x (data set) x seeds, with the plain GAN under the same protocol.

``run_suite`` writes ``results.csv`` (one row per run) and ``results.md`` (mean ± std per
strategy set and data set) into the output folder, appending as runs finish so a long
sweep that is stopped keeps what it measured. The runs go to local processes (the
default) or to Ray tasks (``backend="ray"``, on this machine or a cluster), which also
write each run's directory under ``OUT/runs/``.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from ..config import DEFAULT_RECIPE, TrainConfig, is_default_recipe
from ..data import resolve_data
from ..errors import ConfigError
from ..strategies import parse_strategies, registry
from .ray_backend import DEFAULT_MAX_RETRIES, LOCAL_CPUS, check_ray, run_jobs_ray
from ..train.ensemble import stackable
from .runner import Job, default_workers, run_dir_name, run_jobs

PLAIN = "none"
RECIPE = ",".join(DEFAULT_RECIPE)

#: strategy sets of the mixture suite when none are given: plain, the recipe, then each alone
def default_mixture_sets() -> list[str]:
    """The mixture suite's strategy sets: plain, the recipe, then every strategy alone."""
    alone = [n for n in sorted(registry()) if n != "warm-start"]
    return [PLAIN, RECIPE, *[n for n in alone if n != RECIPE]]


SUITES = {
    "mixtures": {"data": ["ring8", "grid25"], "sets": default_mixture_sets},
}

BACKENDS = ("local", "ray")

COLUMNS = ["strategies", "data", "seed", "steps", "modes", "modes_strict", "hq_pct", "rev_kl",
           "precision", "recall", "density", "coverage", "seconds", "stacked", "error"]


def build_jobs(sets: list[str], data: list[str], seeds: list[int], steps: int | None = None,
               base: dict | None = None) -> list[Job]:
    """One job per (strategy set, data set, seed); ``base``: config values of every run.
    Raises ConfigError for an unknown strategy before any run starts."""
    jobs = []
    kinds: dict[str, str] = {}  # the step count a run trains depends on its data's kind
    for st in sets:
        if not is_default_recipe(st):
            parse_strategies(st)  # fail early, before any run starts
        for d in data:
            if d not in kinds:
                kinds[d] = resolve_data(d).kind
            for seed in seeds:
                cfg = TrainConfig(**{**(base or {}), "data": d, "seed": seed, "strategies": st, "steps": steps,
                                     "sample_every": 10**9, "ckpt_every": 10**9})
                cfg.resolve(kinds[d])
                jobs.append(Job(cfg.to_dict(), None, {"strategies": st, "data": d, "seed": seed,
                                                      "steps": cfg.resolved_steps(kinds[d])}))
    return jobs


def stack_seeds(jobs: list[Job], workers: int) -> list[Job]:
    """Jobs that differ only in their seed, merged into stacked jobs (seeds trained together in
    one process) where :func:`~modeguard.train.ensemble.stackable` allows; each group is split
    into enough chunks that ``workers`` processes still have work. Other jobs are kept as they are."""
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        key = (job.tags["strategies"], job.tags["data"], job.tags["steps"])
        groups.setdefault(key, []).append(job)
    chunks_per_group = max(1, -(-workers // max(1, len(groups))))
    out: list[Job] = []
    for group in groups.values():
        if len(group) < 2 or not stackable(TrainConfig.from_dict(group[0].config))[0]:
            out += group
            continue
        size = -(-len(group) // min(chunks_per_group, len(group)))
        for i in range(0, len(group), size):
            part = group[i:i + size]
            if len(part) == 1:
                out.append(part[0])
                continue
            tags = {k: v for k, v in part[0].tags.items() if k != "seed"}
            out.append(Job(part[0].config, None, tags, seeds=[j.tags["seed"] for j in part]))
    return out


def run_suite(suite: str, out: str | Path, sets: list[str] | None = None, data: list[str] | None = None,
              seeds: int = 5, steps: int | None = None, workers: int | None = None, progress: bool = True,
              base: dict | None = None, resume: bool = False, backend: str = "local",
              address: str | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
              stack: bool = True) -> list[dict]:
    """Run the suite into ``out`` and return one row per run (failed runs carry ``error``).

    resume: runs already in ``out/results.csv`` are kept, not redone. backend: ``local``
    (``workers`` processes, default all cores) or ``ray`` (a task per run on the cluster at
    ``address``, or on a local cluster of ``workers`` CPUs, default 2; a run whose worker
    dies is retried ``max_retries`` times; run directories in ``out/runs/``). stack: on the
    local backend, train the seeds of a stackable configuration together (:func:`stack_seeds`).
    Raises ConfigError for bad input (unknown suite or strategy, Ray missing or unreachable).
    """
    if suite not in SUITES:
        raise ConfigError(f"unknown suite '{suite}'; choose one of {', '.join(SUITES)}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}")
    if address is not None and backend != "ray":
        raise ConfigError("--address names a Ray cluster; add --backend ray")
    if backend == "ray":
        check_ray(address)
    spec = SUITES[suite]
    sets = sets or spec["sets"]()
    if PLAIN not in sets:
        sets = [*sets, PLAIN]  # every table carries the plain GAN under the same protocol
    jobs = build_jobs(sets, data or spec["data"], list(range(seeds)), steps, base)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "results.csv"
    done = read_results(csv_path) if resume else []
    done_keys = {_key(r) for r in done}
    jobs = [j for j in jobs if _key(j.tags) not in done_keys]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: r.get(k, "") for k in COLUMNS} for r in done)

    def append(row: dict) -> None:
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS, extrasaction="ignore").writerow({k: row.get(k, "") for k in COLUMNS})

    if backend == "ray":
        for job in jobs:  # absolute: a worker's current folder is not the driver's
            job.out = str((out / "runs" / run_dir_name(job.tags)).resolve())
        ran = run_jobs_ray(jobs, address, num_cpus=workers or LOCAL_CPUS, max_retries=max_retries,
                           progress=progress, on_result=append)
    else:
        if stack:
            jobs = stack_seeds(jobs, workers or default_workers())
        ran = run_jobs(jobs, workers=workers, progress=progress, on_result=append)
    results = done + ran
    write_table(results, out / "results.md")
    (out / "suite.json").write_text(json.dumps({"suite": suite, "sets": sets, "seeds": seeds, "steps": steps}))
    return results


def _key(row: dict) -> tuple:
    return (row["strategies"], row["data"], int(row["seed"]), int(row["steps"]))


def read_results(path: Path) -> list[dict]:
    """Successful rows of a results.csv, numbers parsed."""
    if not Path(path).is_file():
        return []
    rows = []
    for r in csv.DictReader(open(path)):
        if r.get("error"):
            continue
        row = {k: v for k, v in r.items() if v != ""}
        for k in ("seed", "steps", "modes", "modes_strict"):
            row[k] = int(row[k])
        for k in ("hq_pct", "rev_kl", "precision", "recall", "density", "coverage", "seconds"):
            if k in row:
                row[k] = float(row[k])
        rows.append(row)
    return rows


def _fmt(values: list[float], digits: int) -> str:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return "–"
    if any(math.isinf(v) for v in vals):
        return "inf"
    return f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f}"


def summarise(results: list[dict]) -> list[dict]:
    """One row per (strategies, data): mean ± std over seeds, how many seeds kept every mode,
    and how many runs failed."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["strategies"], r["data"]), []).append(r)
    rows = []
    for (st, d), rs in groups.items():
        ok = [r for r in rs if "error" not in r]
        k = len(resolve_data(d).modes.centers) if resolve_data(d).modes is not None else None
        rows.append({
            "strategies": st, "data": d, "runs": len(rs), "failed": len(rs) - len(ok),
            "modes": _fmt([r["modes"] for r in ok], 1),
            "modes_strict": _fmt([r["modes_strict"] for r in ok], 1),
            "all_modes": f"{sum(r['modes_strict'] == k for r in ok)}/{len(rs)}" if k else "–",
            "hq_pct": _fmt([r["hq_pct"] for r in ok], 1),
            "rev_kl": _fmt([r["rev_kl"] for r in ok], 3),
            "seconds": f"{np.mean([r['seconds'] for r in ok]):.0f}" if ok else "–",
        })
    return rows


def write_table(results: list[dict], path: Path) -> str:
    """Write (and return) the Markdown table of :func:`summarise`, then one line per failed run."""
    rows = summarise(results)
    head = ("| strategies | data | modes | strict modes | seeds with every mode (strict) | HQ % | rev-KL | s/run "
            "| failed runs |\n|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(f"| `{r['strategies']}` | {r['data']} | {r['modes']} | {r['modes_strict']} | {r['all_modes']} | "
                   f"{r['hq_pct']} | {r['rev_kl']} | {r['seconds']} | {r['failed']} |\n" for r in rows)
    failed = [r for r in results if "error" in r]
    tail = "".join(f"- failed: `{r['strategies']}` {r['data']} seed {r['seed']}: {r['error']}\n" for r in failed)
    text = head + body + ("\n" + tail if tail else "")
    Path(path).write_text(text)
    return text
