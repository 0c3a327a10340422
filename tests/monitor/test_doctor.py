"""modeguard doctor: plain-words diagnosis of finished, collapsed, healed and crashed runs."""
import json
import os
import time

import pytest

from modeguard.cli import main
from modeguard.errors import CheckpointError
from modeguard.monitor.doctor import diagnose
from modeguard.train import Trainer

from .helpers import collapsed_run, healed_run


def test_collapsed_run(tiny_config, tmp_path):
    collapsed_run(tiny_config, tmp_path / "run")
    d = diagnose(tmp_path / "run")
    assert d.status == "finished" and d.collapsed and d.collapsed_at == 25
    assert d.verdict.startswith("The run collapsed from step 25 and did not recover")
    assert any(e.startswith("modes 1 vs 8") for e in d.evidence)
    # the monitor's per-mode counts name the modes that emptied (the tiny G itself has none to lose)
    assert len(d.lost_modes) == 7 and d.lost_modes[0].startswith("mode 1 at (0.71, 0.71)")
    assert any("--on-collapse heal" in a for a in d.advice)
    assert any("step 35: collapse confirmed" in t for t in d.timeline)


def test_healed_run(tiny_config, tmp_path):
    healed_run(tiny_config, tmp_path / "run")
    d = diagnose(tmp_path / "run")
    assert "healed (1 heal)" in d.verdict
    assert d.heals == ["heal 1: collapse confirmed at step 45 -> rolled back to step 30, lr_g 0.0001 -> 5e-05"]
    assert any("later abandoned" in t and "collapse confirmed" in t for t in d.timeline)
    # the abandoned branch's checkpoint was sampled with its own config
    assert {c.branch for c in d.checkpoints} == {"main", "abandoned/heal-1"}


def test_healthy_and_crashed_runs(tiny_config, tmp_path):
    collapsed_run(tiny_config, tmp_path / "ok", steps=30, first_bad=1000)
    saved = json.loads((tmp_path / "ok" / "eval.json").read_text())  # as a well-trained G would score
    (tmp_path / "ok" / "eval.json").write_text(json.dumps({**saved, "modes": 8, "hq_pct": 98.0}))
    d = diagnose(tmp_path / "ok", sample_checkpoints=False)
    assert d.status == "finished" and d.verdict.startswith("No collapse seen") and not d.collapsed

    Trainer(tiny_config(steps=20, ckpt_every=10), tmp_path / "crashed").fit()
    (tmp_path / "crashed" / "eval.json").unlink()
    old = time.time() - 3600
    for p in (tmp_path / "crashed").glob("*.jsonl"):
        os.utime(p, (old, old))
    d = diagnose(tmp_path / "crashed", sample_checkpoints=False)
    assert d.status.startswith("crashed or interrupted")
    assert any("--monitor-every" in a for a in d.advice)


def test_doctor_cli(tiny_config, tmp_path, capsys):
    collapsed_run(tiny_config, tmp_path / "run")
    capsys.readouterr()
    assert main(["doctor", str(tmp_path / "run"), "--json", "--no-sample"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["collapsed"] and out["collapsed_at"] == 25
    assert main(["doctor", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run directory not found" in err
    with pytest.raises(CheckpointError, match="not a ModeGuard run"):
        diagnose(tmp_path)


def test_many_modes_allow_a_few_missing_and_list_only_real_losses():
    from modeguard.monitor.doctor import MAX_LISTED, allowed_missing, compare_mode_counts

    assert allowed_missing(8) == 0 and allowed_missing(25) == 0 and allowed_missing(1000) == 10
    # 1000 modes: a mode seen once then not at all is chance; 50 modes that held 12 samples
    # and emptied are losses, of which the biggest MAX_LISTED are named
    best = [1] * 500 + [12] * 50 + [5] * 450
    now = [0] * 500 + [0] * 50 + [5] * 450
    lost = compare_mode_counts(best, now, lambda i: f"m{i}", "a", "b")
    assert len(lost) == MAX_LISTED + 1 and lost[-1] == f"... and {50 - MAX_LISTED} more"
    assert all(x.startswith("m5") for x in lost[:-1])  # only modes 500-549
