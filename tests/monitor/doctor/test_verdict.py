"""doctor.verdict: the story of a classified run in words."""
from modeguard.monitor.doctor.classify import classify
from modeguard.monitor.doctor.read import read_run
from modeguard.monitor.doctor.verdict import evidence, heal_lines, timeline, verdict

from .fake_run import collapse_event, monitor_rows, write_log, write_run

HEAL = {"heal": 1, "cause": "collapse_confirmed", "cause_step": 40, "rolled_back_to": 30, "change": "lr_g 2e-4 -> 1e-4",
        "notes": ["kept D"]}


def _story(run_dir, num_modes=8):
    record = read_run(run_dir)
    c = classify(record, num_modes)
    return record, c, verdict(record, c, c.collapsed_at(record.evals))


def test_collapsed_run_says_when_and_why(tmp_path):
    run = write_run(tmp_path / "run", events=[collapse_event(30, since=20)], monitor=monitor_rows([10, 30], [8, 1]),
                    final={"modes": 1, "hq_pct": 80.0})
    record, c, text = _story(run.path)
    assert text == "The run collapsed from step 20 and did not recover: it ends with 1/8 modes."
    lines = evidence(record, c)
    assert lines[0].startswith("modes 1 vs 8") and lines[0].endswith("(at step 30)")
    assert lines[-1] == "final evaluation: 1/8 modes, 80.0% high quality"
    assert timeline(record) == [f"step 30: {record.events[0].message}"]


def test_healed_run_names_each_heal_and_the_abandoned_branch(tmp_path):
    run = write_run(tmp_path / "run", heals={"heals": [HEAL]}, final={"modes": 8})
    write_log(run.abandoned_branch(1).events, [collapse_event(40, since=30)])
    record, c, text = _story(run.path)
    assert text == "The run collapsed and was healed (1 heal); it ends with 8/8 modes."
    assert heal_lines(record) == ["heal 1: collapse confirmed at step 40 -> rolled back to step 30, "
                                  "lr_g 2e-4 -> 1e-4 (kept D)"]
    assert timeline(record)[0].startswith("step 40 (branch 0, later abandoned): ")
    assert evidence(record, c)[0].startswith("before the heal: modes 1 vs 8")


def test_other_verdicts(tmp_path):
    diverged = write_run(tmp_path / "div", events=[collapse_event(70, since=70, kind="diverged")])
    assert _story(diverged.path)[2] == "Training diverged at step 70: the losses became non-finite."
    nothing = write_run(tmp_path / "empty")
    assert _story(nothing.path)[2].startswith("No collapse figures were recorded yet")
    recovered = write_run(tmp_path / "rec", monitor=monitor_rows([10], [8]),
                          events=[collapse_event(30, since=20), collapse_event(60, since=50, kind="recovered")])
    assert _story(recovered.path)[2] == "The run collapsed at step 20 but recovered by step 60."
    healthy = write_run(tmp_path / "ok", monitor=monitor_rows([10], [8]), final={"modes": 8},
                        events=[collapse_event(20, since=20, kind="collapse_suspected")])
    assert _story(healthy.path)[2] == ("No collapse seen (8/8 modes). The monitor raised 1 suspicion(s) "
                                       "that cleared.")


def test_last_monitor_reading_is_the_evidence_when_nothing_else_is(tmp_path):
    run = write_run(tmp_path / "run", monitor=[*monitor_rows([10], [8]), {"step": 20, "modes": None}])
    record, c, _ = _story(run.path)
    assert evidence(record, c) == []  # the last reading has no mode count
    run = write_run(tmp_path / "run2", monitor=monitor_rows([10, 20], [8, 7]))
    record, c, _ = _story(run.path)
    assert evidence(record, c) == ["last monitor reading (step 20): 7 modes alive, coverage 0.50"]
