"""doctor.classify: the run's status and its collapse story from events and mode counts."""
import os
import time

from modeguard.monitor.doctor.classify import allowed_missing, classify, run_status
from modeguard.monitor.doctor.read import read_run

from .fake_run import collapse_event, write_log, write_run


def _age(run, seconds=3600):
    old = time.time() - seconds
    for p in run.path.glob("*.jsonl"):
        os.utime(p, (old, old))


def test_allowed_missing():
    assert allowed_missing(None) == 0 and allowed_missing(8) == 0 and allowed_missing(100) == 0
    assert allowed_missing(101) == 2 and allowed_missing(1000) == 10


def test_status(tmp_path):
    run = write_run(tmp_path / "a", metrics=[{"step": 100}], final={"modes": 8})
    assert run_status(read_run(run.path), 100) == "finished"
    run = write_run(tmp_path / "b", metrics=[{"step": 50}])
    assert run_status(read_run(run.path), 50) == "still running"  # logs written just now
    _age(run)
    assert run_status(read_run(run.path), 50).startswith("crashed or interrupted")
    run = write_run(tmp_path / "c", events=[collapse_event(50, 40, kind="diverged")])
    _age(run)
    assert run_status(read_run(run.path), 50) == "crashed (training diverged)"
    run = write_run(tmp_path / "d", events=[collapse_event(50, 40, kind="stopped")])
    assert run_status(read_run(run.path), 50).startswith("stopped by the monitor")


def test_open_collapse_and_recovery(tmp_path):
    run = write_run(tmp_path / "open", events=[collapse_event(30, since=20)])
    c = classify(read_run(run.path), 8)
    assert c.open_collapse and c.collapsed and c.collapsed_at([]) == 20

    run = write_run(tmp_path / "rec", events=[collapse_event(30, since=20), collapse_event(60, since=50, kind="recovered")])
    c = classify(read_run(run.path), 8)
    assert not c.open_collapse and not c.collapsed and [e.step for e in c.recovered_after] == [60]


def test_snapshot_fall_and_final_modes(tmp_path):
    evals = [{"step": 10, "modes": 6}, {"step": 20, "modes": 8}, {"step": 30, "modes": 8}, {"step": 40, "modes": 5},
             {"step": 50, "modes": "x"}, {"step": 60, "modes": 4}]
    record = read_run(write_run(tmp_path / "fell", evals=evals).path)
    c = classify(record, 8)
    assert c.fell and c.best_eval["step"] == 20 and c.collapsed_at(record.evals) == 40

    record = read_run(write_run(tmp_path / "partial", final={"modes": 6}).path)
    c = classify(record, 8)
    assert c.never_all and c.collapsed and c.final_modes == 6
    # with 1000 modes, 10 may be missing by chance
    assert not classify(read_run(write_run(tmp_path / "many", final={"modes": 991}).path), 1000).never_all


def test_branch_events_count_as_confirmed_but_not_open(tmp_path):
    run = write_run(tmp_path / "run")
    write_log(run.abandoned_branch(1).events, [collapse_event(40, since=30)])
    c = classify(read_run(run.path), 8)
    assert [e.step for e in c.confirmed] == [40] and not c.live_confirmed and not c.open_collapse
    assert c.collapsed_at([]) == 30
