"""Run many training jobs in parallel processes, one torch thread each.

One thread per process is steady on a busy machine; two threads per process are not.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Job:
    config: dict
    out: str | None = None
    tags: dict = field(default_factory=dict)


def run_job(job: Job) -> dict:
    """Train one config (in this process) and return its evaluation, tags and wall time."""
    import torch

    from ..config import TrainConfig
    from ..train import Trainer

    torch.set_num_threads(1)
    config = TrainConfig.from_dict({**job.config, "progress": False, "threads": 1})
    t0 = time.perf_counter()
    trainer = Trainer(config, job.out)
    result = trainer.fit()
    result = {k: v for k, v in result.items() if k != "counts"}
    return {**job.tags, **result, "seconds": time.perf_counter() - t0}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_jobs(jobs: list[Job], workers: int | None = None, progress: bool = True, on_result=None) -> list[dict]:
    """Run ``jobs`` on ``workers`` processes; results come back in job order."""
    workers = workers or default_workers()
    results: list[dict | None] = [None] * len(jobs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="runs", unit="run")
    if workers == 1:
        for i, job in enumerate(jobs):
            results[i] = run_job(job)
            if on_result:
                on_result(results[i])
            if bar:
                bar.update()
    else:
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except Exception as e:  # one failed run must not lose the others
                    results[i] = {**jobs[i].tags, "error": f"{type(e).__name__}: {e}"}
                if on_result:
                    on_result(results[i])
                if bar:
                    bar.update()
    if bar:
        bar.close()
    return results  # type: ignore[return-value]


def ensure_dir(path: str | Path) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p
