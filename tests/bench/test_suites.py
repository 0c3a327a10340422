import csv

import pytest

from modeguard.bench.suites import build_jobs, run_suite, stack_seeds, summarise
from modeguard.cli import main
from modeguard.errors import ConfigError

TINY = {"batch_size": 32, "eval_samples": 64, "model_options": {"g_hidden": [8], "d_hidden": [8], "z_dim": 2}}


def test_suite_writes_csv_and_table_with_plain_row(tmp_path):
    results = run_suite("mixtures", tmp_path, sets=["r1"], data=["ring8"], seeds=2, steps=5, workers=1,
                        progress=False, base=TINY)
    assert {r["strategies"] for r in results} == {"r1", "none"}  # the plain GAN is always measured
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 4 and {r["seed"] for r in rows} == {"0", "1"}
    table = (tmp_path / "results.md").read_text()
    assert "| `none` | ring8 |" in table and "| `r1` | ring8 |" in table


def test_summary_counts_seeds_that_kept_every_mode():
    rs = [{"strategies": "x", "data": "ring8", "seed": s, "modes": m, "modes_strict": m, "hq_pct": 90.0,
           "rev_kl": 0.1, "seconds": 1.0} for s, m in enumerate([8, 8, 7])]
    (row,) = summarise(rs)
    assert row["all_modes"] == "2/3"
    assert row["modes"].startswith("7.7 ±")


def test_bad_suite_inputs_fail_before_running(tmp_path):
    with pytest.raises(ConfigError, match="unknown strategy"):
        run_suite("mixtures", tmp_path, sets=["nope"], data=["ring8"], seeds=1, steps=5, workers=1)
    with pytest.raises(ConfigError, match="unknown suite"):
        run_suite("cifar", tmp_path)
    assert main(["bench", "--seeds", "0", "--out", str(tmp_path)]) == 2


def test_resume_keeps_finished_runs(tmp_path):
    first = run_suite("mixtures", tmp_path, sets=["r1"], data=["ring8"], seeds=1, steps=5, workers=1,
                      progress=False, base=TINY)
    again = run_suite("mixtures", tmp_path, sets=["r1"], data=["ring8"], seeds=2, steps=5, workers=1,
                      progress=False, base=TINY, resume=True)
    assert len(again) == 4
    kept = {(r["strategies"], r["seed"]): r["seconds"] for r in again}
    for r in first:  # the finished runs were read back, not run again
        assert kept[(r["strategies"], r["seed"])] == pytest.approx(r["seconds"], rel=1e-6)


def test_seeds_of_a_stackable_set_are_merged_into_one_job_per_worker():
    jobs = build_jobs(["r1", "pacgan"], ["ring8"], [0, 1, 2, 3], steps=5, base=TINY)
    merged = stack_seeds(jobs, workers=1)
    stacked = [j for j in merged if j.seeds]
    assert [(j.tags["strategies"], j.seeds) for j in stacked] == [("r1", [0, 1, 2, 3])]
    assert sorted(j.tags["seed"] for j in merged if not j.seeds) == [0, 1, 2, 3]  # pacgan is not stacked
    split = stack_seeds(build_jobs(["r1"], ["ring8"], [0, 1, 2, 3], steps=5, base=TINY), workers=2)
    assert [j.seeds for j in split] == [[0, 1], [2, 3]]  # both workers get seeds


def test_job_steps_follow_the_data_kind(tmp_path):
    import numpy as np

    from modeguard.recipes import DEFAULT_STEPS, KIND_STEPS

    points = tmp_path / "pts.npy"
    np.save(points, np.random.default_rng(0).normal(size=(100, 2)).astype(np.float32))
    jobs = build_jobs(["none"], [str(points), "ring8", "digits"], [0])
    steps = {j.tags["data"]: j.tags["steps"] for j in jobs}
    assert steps[str(points)] == KIND_STEPS["points"]  # the count the run will train
    assert steps["ring8"] == DEFAULT_STEPS["ring8"] and steps["digits"] == KIND_STEPS["image"]
    assert all(j.config["steps"] is None for j in jobs)  # each run resolves it with its data


def test_stacked_bench_rows_match_one_process_per_seed(tmp_path):
    kwargs = dict(sets=["r1"], data=["ring8"], seeds=2, steps=20, workers=1, progress=False, base=TINY)
    together = run_suite("mixtures", tmp_path / "a", **kwargs)
    apart = run_suite("mixtures", tmp_path / "b", stack=False, **kwargs)
    key = lambda r: (r["strategies"], r["seed"])  # noqa: E731
    assert all(r.get("stacked") == 2 for r in together)
    for a, b in zip(sorted(together, key=key), sorted(apart, key=key)):
        assert key(a) == key(b) and a["modes"] == b["modes"]
        assert a["rev_kl"] == pytest.approx(b["rev_kl"], rel=1e-3, abs=1e-4)
    rows = list(csv.DictReader(open(tmp_path / "a" / "results.csv")))
    assert sorted(int(r["seed"]) for r in rows) == [0, 0, 1, 1] and all(r["stacked"] == "2" for r in rows)
