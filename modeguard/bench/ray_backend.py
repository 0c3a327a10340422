"""Run a sweep's jobs as Ray tasks, on this machine or on a Ray cluster (extra ``modeguard[ray]``).

Each job is one task with its resources: one CPU, or one GPU where its config asks for
CUDA (or says ``auto`` on a cluster that has GPUs). Results come back as they finish. A task
whose worker dies (killed, out of memory, node lost) is retried ``max_retries`` times by
Ray, then reported as a row with an ``error``; the other rows are kept. Ray is imported
only here, and only when this backend is asked for.
"""
from __future__ import annotations

import logging
import shutil
import socket
from contextlib import contextmanager

from ..errors import ConfigError
from .runner import Job, progress_bar, report_row, run_job

#: how many times a task whose worker died is run again before its row is marked failed
DEFAULT_MAX_RETRIES = 2
#: the object store of a local cluster: results are small dicts, configs small mappings
LOCAL_OBJECT_STORE_BYTES = 96 * 1024**2
#: CPUs of a local cluster started for a sweep when no --workers is given
LOCAL_CPUS = 2
#: seconds to wait for a HOST:PORT to answer before calling it unreachable
CONNECT_TIMEOUT_S = 5.0


def import_ray():
    """The ``ray`` module; raises ConfigError (one line) where it is not installed."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'modeguard[ray]' (or 'ray[tune]')") from None
    return ray


def check_address(address: str | None) -> None:
    """Raise ConfigError unless ``address`` is None, ``auto``, or a HOST:PORT that answers.

    ``ray://HOST:PORT`` (Ray client) is checked the same way. ``auto`` is checked by
    :func:`ray_session` (Ray itself looks the running cluster up).
    """
    if address is None or address == "auto":
        return
    hostport = address.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be 'auto' or HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ConfigError(f"no Ray cluster answers at {address} ({reason}); "
                          f"start one with 'ray start --head' or check --address") from None


def check_ray(address: str | None) -> None:
    """Raise ConfigError now, before anything is written, where Ray is missing or the
    cluster at ``address`` does not answer."""
    import_ray()
    check_address(address)


@contextmanager
def ray_session(address: str | None = None, num_cpus: int = LOCAL_CPUS):
    """Connect to the Ray cluster at ``address`` (``auto``: the one running on this machine),
    or start a small local one (``num_cpus`` CPUs, no dashboard, a small object store).

    Yields the ``ray`` module and shuts down what it started or joined on exit. Where Ray
    is already initialised in this process (a caller's own cluster), that one is used and
    left running. Raises ConfigError when Ray is missing or the cluster cannot be reached.
    """
    ray = import_ray()
    check_address(address)
    if ray.is_initialized():
        yield ray
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"cannot connect to a Ray cluster at {address or 'a new local cluster'}: {first}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_job_afresh(job: Job) -> dict:
    """:func:`run_job`, after removing what an earlier attempt of the job (a worker that died)
    left in its run directory: a retried run starts over."""
    if job.out is not None:
        shutil.rmtree(job.out, ignore_errors=True)
    return run_job(job)


def task_resources(config: dict, cluster_has_gpus: bool) -> dict:
    """Ray resources of one job: ``{"num_gpus": 1}`` where its device is CUDA (or ``auto`` on a
    cluster with GPUs), else ``{"num_cpus": 1}``."""
    device = str(config.get("device", "auto"))
    if device.startswith("cuda") or (device == "auto" and cluster_has_gpus):
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


def error_text(error: Exception, max_retries: int) -> str:
    """One line for a failed task: the run's own exception, or how its worker was lost."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, Exception):  # the run raised (a RayTaskError wraps it): not retried
        return f"{type(cause).__name__}: {cause}".splitlines()[0]
    what = type(error).__name__
    return f"{what}: its worker died on each of {max_retries + 1} attempts"


def run_jobs_ray(jobs: list[Job], address: str | None = None, num_cpus: int = LOCAL_CPUS,
                 max_retries: int = DEFAULT_MAX_RETRIES, progress: bool = True, on_result=None,
                 job_fn=run_job_afresh) -> list[dict]:
    """Run ``jobs`` as Ray tasks and return their rows in job order.

    address: a running cluster (``auto`` or HOST:PORT), or None to start a local one of
    ``num_cpus`` CPUs for this sweep. max_retries: runs of a task after its worker died.
    on_result(row): called as each run finishes (rows stream into the results files).
    job_fn: what a task runs, ``job_fn(job) -> row`` (default :func:`run_job_afresh`).
    A run that raises, or whose worker died more than ``max_retries`` times, becomes a row
    with an ``error`` column. Raises ConfigError when Ray or the cluster is missing.
    """
    if max_retries < 0:
        raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
    results: list[dict | None] = [None] * len(jobs)
    with ray_session(address, num_cpus) as ray:
        has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        remote = ray.remote(job_fn)
        pending = {remote.options(max_retries=max_retries, **task_resources(job.config, has_gpus)).remote(job): i
                   for i, job in enumerate(jobs)}
        bar = progress_bar(len(jobs), progress)
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ref)
            try:
                results[i] = ray.get(ref)
            except ray.exceptions.RayError as e:  # one lost run must not lose the others
                results[i] = {**jobs[i].tags, "error": error_text(e, max_retries)}
            report_row(results[i], on_result, bar)
        if bar:
            bar.close()
    return results  # type: ignore[return-value]
