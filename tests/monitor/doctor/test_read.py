"""doctor.read: what a run left on disk, cleaned of broken lines and malformed records."""
import pytest

from modeguard.errors import CheckpointError, ConfigError
from modeguard.monitor.doctor.read import is_number, number, read_json_object, read_run, step_rows

from .fake_run import GARBAGE_LINES, collapse_event, write_log, write_run


def test_numbers_and_step_rows():
    assert is_number(3) and is_number(2.5) and not is_number(True) and not is_number(float("nan"))
    assert not is_number("3")
    assert number({"a": 1.5}, "a") == 1.5 and number({"a": "x"}, "a", 0) == 0 and number({}, "a") is None
    rows = step_rows([{"step": 3.0, "x": 1}, {"step": "4"}, {"x": 2}, {"step": None}])
    assert rows == [{"step": 3, "x": 1}] and isinstance(rows[0]["step"], int)


def test_read_json_object(tmp_path):
    p = tmp_path / "f.json"
    assert read_json_object(p) == {}  # missing
    for raw, expected in ((b'{"a": 1}', {"a": 1}), (b"[1, 2]", {}), (b"\xff\xfe", {}), (b"{cut", {})):
        p.write_bytes(raw)
        assert read_json_object(p) == expected


def test_garbage_lines_in_every_log_are_skipped(tmp_path):
    good = collapse_event(40, since=30)
    run = write_run(tmp_path / "run", metrics=[*GARBAGE_LINES, {"step": 10, "loss_d": 1.0}],
                    monitor=[*GARBAGE_LINES, {"step": 20, "modes": 8}], evals=[*GARBAGE_LINES, {"step": 30, "modes": 7}],
                    events=[*GARBAGE_LINES, {"kind": "heal", "step": "x"}, {"kind": "recovered", "step": 5,
                                                                               "evidence": [1]}, good])
    record = read_run(run.path)
    # the row with a numeric step but a non-numeric figure is kept: the figure is ignored where read
    assert [r["step"] for r in record.metrics] == [12, 10]
    assert [r["step"] for r in record.monitor] == [12, 20]
    assert [r["step"] for r in record.evals] == [12, 30]
    assert [(e.kind, e.step) for e in record.events] == [("collapse_confirmed", 40)]
    assert record.last_step() == 20


def test_heals_and_final_evaluation_are_validated(tmp_path):
    heal = {"heal": 1, "cause": "collapse_confirmed", "cause_step": 40, "rolled_back_to": 30, "change": "lr_g*0.5",
            "notes": "not a list"}
    run = write_run(tmp_path / "run", heals={"heals": [heal, {"heal": 2}, "junk"]},
                    final={"modes": 8, "hq_pct": 97.0, "ok": True, "counts": [1, 2]})
    record = read_run(run.path)
    assert [h["heal"] for h in record.heals] == [1] and record.heals[0]["notes"] == []
    assert record.final_numbers() == {"modes": 8, "hq_pct": 97.0}

    for bad in (b"\xff\xfe", b"[1]", b"{cut"):
        run.heals.write_bytes(bad)
        run.eval_json.write_bytes(bad)
        record = read_run(run.path)
        assert record.heals == [] and record.final == {}
    run.heals.write_bytes(b'{"heals": 5}')
    assert read_run(run.path).heals == []


def test_abandoned_branches_oldest_first(tmp_path):
    run = write_run(tmp_path / "run")
    for k in (10, 2):
        branch = run.abandoned_branch(k)
        write_log(branch.events, [collapse_event(5 * k, since=k, branch=k - 1)])
        write_log(branch.monitor, [b"\xff", {"step": k}])
    record = read_run(run.path)
    assert [b.heal for b in record.branches] == [2, 10]
    assert [b.label for b in record.branches] == ["abandoned before heal 2", "abandoned before heal 10"]
    assert [e.step for e in record.old_events] == [10, 50]
    assert record.branches[0].monitor == [{"step": 2}]


def test_no_run_and_broken_config_are_one_line_errors(tmp_path):
    with pytest.raises(CheckpointError, match="run directory not found"):
        read_run(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a ModeGuard run"):
        read_run(tmp_path)
    run = write_run(tmp_path / "run")
    run.config.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="config.yaml"):
        read_run(run.path)
