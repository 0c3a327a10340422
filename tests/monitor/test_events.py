"""monitor.events: the JSON form of events, and reading it back from a damaged log."""
import json
import math

from modeguard.monitor.events import EVENT_KINDS, Event, Evidence, append_events, read_events


def test_round_trip_keeps_non_finite_numbers(tmp_path):
    ev = Evidence("grad_norm_g", float("inf"), 1.0, 10.0, float("inf"), since=7, basis="finite")
    e = Event("diverged", 9, "boom", [ev], since=7, branch=2, details={"path": tmp_path, "x": float("nan")})
    path = tmp_path / "sub" / "events.jsonl"
    append_events(path, [e])
    append_events(path, [])
    line = path.read_text().splitlines()
    assert len(line) == 1 and json.loads(line[0])["evidence"][0]["value"] == "inf"
    back = read_events(path)[0]
    assert back.evidence[0].value == math.inf and back.details["path"] == str(tmp_path)
    assert back.details["x"] == "nan"  # details keep the JSON form
    assert (back.kind, back.step, back.since, back.branch) == ("diverged", 9, 7, 2)


def test_damaged_lines_and_malformed_events_are_skipped(tmp_path):
    good = Event("recovered", 5, "ok")
    bad_objects = [{"step": 1}, {"kind": "heal", "step": "soon"}, {"kind": "heal", "step": 2, "details": [1]},
                   {"kind": "heal", "step": 3, "evidence": [5]},
                   {"kind": "heal", "step": 4, "evidence": [{"figure": "modes", "value": "many", "healthy": 8,
                                                            "threshold": 7, "deviation": 0.5}]}]
    lines = [b"\xff\xfe", b"[1]", b"{cut", *(json.dumps(o).encode() for o in bad_objects), json.dumps(good.to_dict()).encode()]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert [(e.kind, e.step) for e in read_events(path)] == [("recovered", 5)]
    assert read_events(tmp_path / "missing.jsonl") == []


def test_describe_says_value_level_and_since():
    ev = Evidence("modes", 1.0, 8.0, 7.0, 0.875, since=25)
    assert ev.describe() == "modes 1 vs 8 (this run's healthy level, 88% below) since step 25"
    bound = Evidence("d_accuracy", 0.99, 0.9, 0.95, 0.04, basis="bound")
    assert bound.describe() == "d_accuracy 0.99 above the healthy limit 0.95"
    assert set(EVENT_KINDS) >= {"collapse_confirmed", "heal", "stopped"}
