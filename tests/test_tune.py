"""``modeguard tune``: the search file, one trial, and a tiny search on a local Ray cluster."""
import csv
import json

import pytest

from modeguard.cli import main
from modeguard.errors import ConfigError
from modeguard.tune import load_search, run_trial, score, search_from_dict, trial_config

TINY_BASE = {"batch_size": 64, "eval_samples": 200,
             "model_options": {"g_hidden": [32, 32], "d_hidden": [32, 32], "z_dim": 2}}


def tiny_search(**kw) -> dict:
    d = {"data": "ring8", "steps": 200, "trials": 3, "report_every": 50, "grace_steps": 50, "monitor_every": 10,
         "base": TINY_BASE, "space": {"strategies": {"choice": ["none", "r1"]}, "lr": {"loguniform": [1e-3, 1e-2]},
                                      "r1.gamma": {"loguniform": [0.05, 5.0]}}}
    d.update(kw)
    return d


def test_a_drawn_sample_becomes_the_trial_config():
    search = search_from_dict(tiny_search())
    config = trial_config(search, {"strategies": "r1,ema", "lr": 0.002, "r1.gamma": 0.5})
    assert config.strategies == ["r1:gamma=0.5", "ema"]  # the option lands on the strategy that has it
    assert config.lr_g == config.lr_d == 0.002 and config.steps == 200 and config.batch_size == 64
    assert config.on_collapse == "stop" and config.monitor_every == 10
    plain = trial_config(search, {"strategies": "none", "lr": 0.002, "r1.gamma": 0.5}, collapse_stop=False)
    assert plain.strategies == [] and plain.monitor_every == 0 and plain.on_collapse == "warn"


@pytest.mark.parametrize("change, message", [
    ({"space": {"r1.nope": 1.0}}, "has no option 'nope'"),
    ({"space": {"lr": {"normal": [0, 1]}}}, "write one of choice"),
    ({"space": {"lr": {"loguniform": [0.0, 1.0]}}}, "low > 0"),
    ({"space": {"strategies": {"choice": ["none", "nope"]}}}, "unknown strategy 'nope'"),
    ({"base": {"steps": 5}}, "base.steps"),
    ({"trials": 0}, "trials must be"),
    ({"search": "grid"}, "search must be"),
    ({"colapse_stop": True}, "unknown search key 'colapse_stop'"),
])
def test_bad_search_files_name_what_is_wrong(change, message):
    with pytest.raises(ConfigError, match=message):
        search_from_dict(tiny_search(**change))


def test_score_ranks_modes_first_then_reverse_kl():
    assert score({"modes": 8, "rev_kl": 5.0}) > score({"modes": 7, "rev_kl": 0.0})
    assert score({"modes": 8, "rev_kl": 0.1}) > score({"modes": 8, "rev_kl": 0.2})
    assert score({"modes": 1, "rev_kl": float("inf")}) == 0.0


def test_a_collapsing_trial_stops_at_the_confirmation_and_says_so():
    search = search_from_dict(tiny_search(steps=400))
    reports = []
    final = run_trial(trial_config(search, {"strategies": "none", "lr": 0.01}), 50, reports.append)
    assert final["collapsed"] and final["last"] and final["step"] < 400
    assert reports[-1] == final and [r["step"] for r in reports] == sorted(r["step"] for r in reports)
    assert all(r["cpu_s"] > 0 for r in reports)


def test_tiny_search_on_ray_stops_collapsed_trials_early(tmp_path, capsys):
    pytest.importorskip("ray")
    path = tmp_path / "search.yaml"
    path.write_text(json.dumps(tiny_search(steps=400)))  # JSON is YAML
    assert load_search(path).trials == 3
    assert main(["tune", str(path), "--out", str(tmp_path / "out"), "--workers", "2"]) == 0
    trials = list(csv.DictReader(open(tmp_path / "out" / "trials.csv")))
    assert len(trials) == 3
    collapsed = [t for t in trials if t["outcome"] == "collapse"]
    assert collapsed and all(int(t["step"]) < 400 for t in collapsed)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["collapsed"] == len(collapsed) and summary["trial_steps"] == sum(int(t["step"]) for t in trials)
    assert summary["best"] is not None
    out = capsys.readouterr().out
    assert "stopped at a confirmed collapse" in out and "best:" in out


def test_tune_bad_input_is_one_line_exit_2(tmp_path, capsys):
    assert main(["tune", str(tmp_path / "missing.yaml")]) == 2
    assert "search file not found" in capsys.readouterr().err
