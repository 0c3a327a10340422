"""The Ray backend of ``modeguard bench`` on a real local Ray cluster of 2 CPUs."""
import csv
import os
import socket
import sys

import pytest

from modeguard.bench.ray_backend import run_job_afresh, run_jobs_ray, task_resources
from modeguard.bench.suites import build_jobs, write_table
from modeguard.cli import main

ray = pytest.importorskip("ray")

TINY = {"batch_size": 32, "eval_samples": 64, "model_options": {"g_hidden": [8], "d_hidden": [8], "z_dim": 2}}


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module: the backend uses a running one and leaves it up."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=96 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rows(path):
    return list(csv.DictReader(open(path)))


def test_two_by_two_bench_through_ray_streams_rows_and_resumes(cluster, tmp_path, capsys):
    argv = ["bench", "--backend", "ray", "--strategies", "r1", "--data", "ring8", "--seeds", "2", "--steps", "5",
            "--out", str(tmp_path)]
    assert main(argv) == 0
    first = rows(tmp_path / "results.csv")
    assert sorted((r["strategies"], r["seed"]) for r in first) == [("none", "0"), ("none", "1"), ("r1", "0"), ("r1", "1")]
    assert all(r["error"] == "" and r["modes"] != "" for r in first)
    assert len(list((tmp_path / "runs").iterdir())) == 4  # each run's directory where --out says
    assert "| `r1` | ring8 |" in (tmp_path / "results.md").read_text()
    assert main([*argv, "--resume"]) == 0  # nothing left to run: the rows are read back, not redone
    again = rows(tmp_path / "results.csv")
    assert {(r["strategies"], r["seed"], r["seconds"]) for r in again} == {
        (r["strategies"], r["seed"], r["seconds"]) for r in first}


def test_a_task_whose_worker_dies_is_retried_and_the_bench_finishes(cluster, tmp_path):
    jobs = build_jobs(["none", "r1"], ["ring8"], [0, 1], steps=5, base=TINY)
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def dies_once(job):
        log = attempts / f"{job.tags['strategies']}-{job.tags['seed']}"
        with open(log, "a") as f:
            f.write(f"{os.getpid()}\n")
        if job.tags == jobs[0].tags and len(log.read_text().split()) == 1:
            os._exit(1)  # the worker process dies mid-task, as when killed
        return run_job_afresh(job)

    streamed = []
    results = run_jobs_ray(jobs, max_retries=2, progress=False, on_result=streamed.append, job_fn=dies_once)
    assert len(streamed) == 4 and all("error" not in r for r in results)
    assert [r["seed"] for r in results] == [j.tags["seed"] for j in jobs]
    assert len((attempts / "none-0").read_text().split()) == 2  # killed once, then retried
    assert len((attempts / "r1-1").read_text().split()) == 1


def test_a_task_that_keeps_dying_is_a_failed_row_and_the_others_are_kept(cluster, tmp_path):
    jobs = build_jobs(["none"], ["ring8"], [0, 1], steps=5, base=TINY)

    def always_dies_on_seed_1(job):
        if job.tags["seed"] == 1:
            os._exit(1)
        return run_job_afresh(job)

    results = run_jobs_ray(jobs, max_retries=1, progress=False, job_fn=always_dies_on_seed_1)
    assert "error" not in results[0] and results[0]["modes"] >= 0
    assert "died on each of 2 attempts" in results[1]["error"]
    table = write_table(results, tmp_path / "results.md")
    assert "| 1 |" in table.splitlines()[2]  # one failed run in the row
    assert "failed: `none` ring8 seed 1" in table


def test_bench_with_ray_missing_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # 'import ray' now fails as if not installed
    assert main(["bench", "--backend", "ray", "--seeds", "1", "--steps", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'modeguard[ray]'" in err


def test_unreachable_or_malformed_address_is_one_line_exit_2(tmp_path, capsys):
    for address in (f"127.0.0.1:{closed_port()}", "nohostport"):
        assert main(["bench", "--backend", "ray", "--address", address, "--seeds", "1", "--steps", "5",
                     "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and address in err
    assert main(["bench", "--address", "auto", "--seeds", "1", "--out", str(tmp_path)]) == 2  # needs --backend ray
    assert not (tmp_path / "results.csv").exists()


def test_a_cuda_run_asks_for_a_gpu_and_a_cpu_run_for_a_cpu():
    assert task_resources({"device": "cuda"}, cluster_has_gpus=False) == {"num_cpus": 1, "num_gpus": 1}
    assert task_resources({"device": "cuda:1"}, cluster_has_gpus=True)["num_gpus"] == 1
    assert task_resources({"device": "auto"}, cluster_has_gpus=True)["num_gpus"] == 1
    assert task_resources({"device": "auto"}, cluster_has_gpus=False) == {"num_cpus": 1}
    assert task_resources({"device": "cpu"}, cluster_has_gpus=True) == {"num_cpus": 1}
