"""Run many training jobs in parallel processes, one torch thread each.

One thread per process is steady on a busy machine; two threads per process are not.
The Ray backend (:mod:`modeguard.bench.ray_backend`) runs the same :func:`run_job`.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import TrainConfig
from ..train import Trainer
from ..train.ensemble import Ensemble


@dataclass
class Job:
    """One training run of a sweep.

    config: a ``TrainConfig.to_dict()``; out: its run directory (``None``: keep nothing on
    disk); tags: the columns that name the run in the results (strategies, data, seed, steps).
    """

    config: dict
    out: str | None = None
    tags: dict = field(default_factory=dict)
    #: seeds trained together as one stacked ensemble (None: one run, of ``tags["seed"]``)
    seeds: list[int] | None = None


def job_rows(job: Job) -> int:
    """How many result rows ``job`` gives: one per seed it trains."""
    return len(job.seeds) if job.seeds else 1


def job_config(job: Job) -> TrainConfig:
    """The config a job trains: one torch thread in this process, no progress bar."""
    torch.set_num_threads(1)
    return TrainConfig.from_dict({**job.config, "progress": False, "threads": 1})


def result_row(tags: dict, result: dict, seconds: float) -> dict:
    """A results row: the run's tags, its evaluation (without per-mode counts), its seconds."""
    return {**tags, **{k: v for k, v in result.items() if k != "counts"}, "seconds": seconds}


def run_job(job: Job) -> dict:
    """Train one config (in this process) and return its tags, evaluation and wall time.

    Raises what training raises (the backends turn it into an error row).
    """
    config = job_config(job)
    t0 = time.perf_counter()
    result = Trainer(config, job.out).fit()
    return result_row(job.tags, result, time.perf_counter() - t0)


def run_stacked_job(job: Job) -> list[dict]:
    """Train the seeds of ``job.seeds`` together (:class:`~modeguard.train.ensemble.Ensemble`)
    and return one row per seed; ``seconds`` is the run's wall time shared out over its seeds."""
    config = job_config(job)
    t0 = time.perf_counter()
    results = Ensemble(config, job.seeds).fit()
    seconds = (time.perf_counter() - t0) / len(job.seeds)
    return [{**result_row({**job.tags, "seed": seed}, r, seconds), "stacked": len(job.seeds)}
            for seed, r in zip(job.seeds, results)]


def run_any(job: Job) -> list[dict]:
    """The rows of ``job``: a stacked job's seeds, or the one run."""
    return run_stacked_job(job) if job.seeds else [run_job(job)]


def error_rows(job: Job, error: str) -> list[dict]:
    """The rows of a job that failed: one per seed it held, each with ``error``."""
    return [{**job.tags, "seed": s, "error": error} for s in job.seeds] if job.seeds else [{**job.tags, "error": error}]


def run_dir_name(tags: dict) -> str:
    """A folder name for a run from its tags, e.g. ``r1_gamma_1-ema--ring8-seed0``."""
    strategies = re.sub(r"[^A-Za-z0-9._-]+", "_", str(tags["strategies"]))
    return f"{strategies}--{tags['data']}-seed{tags['seed']}"


def default_workers() -> int:
    """The CPU cores this process may use."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def progress_bar(total: int, enabled: bool):
    """A tqdm bar over ``total`` runs, or ``None`` when ``enabled`` is false."""
    return tqdm(total=total, desc="runs", unit="run", dynamic_ncols=True) if enabled else None


def run_jobs(jobs: list[Job], workers: int | None = None, progress: bool = True, on_result=None) -> list[dict]:
    """Run ``jobs`` on ``workers`` local processes; rows come back in job order (a stacked
    job gives one row per seed).

    ``on_result(row)`` is called as each run finishes. A run that raises becomes a row with
    an ``error`` column; the other runs go on.
    """
    workers = workers or default_workers()
    results: list[list[dict] | None] = [None] * len(jobs)
    bar = progress_bar(sum(job_rows(j) for j in jobs), progress)
    if workers == 1:
        for i, job in enumerate(jobs):
            results[i] = run_any(job)
            for row in results[i]:
                report_row(row, on_result, bar)
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_any, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as e:  # one failed run must not lose the others
                    results[i] = error_rows(jobs[i], f"{type(e).__name__}: {e}")
                for row in results[i]:
                    report_row(row, on_result, bar)
    if bar:
        bar.close()
    return [row for rows in results for row in rows]  # type: ignore[union-attr]


def ensure_dir(path: str | Path) -> Path:
    """``path`` as a Path, created with its parents."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def report_row(row: dict, on_result, bar) -> None:
    """Hand a finished run's ``row`` to ``on_result`` (if any) and advance the progress ``bar``."""
    if on_result:
        on_result(row)
    if bar:
        bar.update()
