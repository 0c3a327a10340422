"""doctor.diagnosis: the four steps together, on runs left in any state."""
import json

from modeguard.cli import main
from modeguard.monitor.doctor import Diagnosis, diagnose

from .fake_run import GARBAGE_LINES, collapse_event, monitor_rows, write_run


def test_a_run_full_of_garbage_is_still_diagnosed(tmp_path):
    run = write_run(tmp_path / "run", metrics=[*GARBAGE_LINES, {"step": 30, "loss_d": 1.2}],
                    monitor=[*GARBAGE_LINES, *monitor_rows([10, 30], [8, 1])],
                    evals=[*GARBAGE_LINES, {"step": 20, "modes": 8}], events=[*GARBAGE_LINES, collapse_event(30, 20)],
                    heals=b"\xff\xfe", final=b"[not an object]")
    d = diagnose(run.path)
    assert d.collapsed and d.collapsed_at == 20 and d.step == 30
    assert d.verdict == "The run collapsed from step 20 and did not recover."
    assert len(d.lost_modes) == 7 and d.heals == [] and d.final == {}
    json.dumps(d.to_dict())  # the --json form stays serialisable


def test_an_empty_run(tmp_path):
    run = write_run(tmp_path / "run")
    d = diagnose(run.path)
    assert (d.step, d.collapsed, d.checkpoints, d.timeline) == (0, False, [], [])
    assert d.verdict.startswith("No collapse figures were recorded yet")
    assert d.text().splitlines()[0] == f"run {run.path}: {d.status}, step 0 of 100"


def test_text_lists_only_sections_with_lines():
    d = Diagnosis("r", "finished", 10, 10, "Fine.", False, evidence=["e1"], advice=["a1", "a2"])
    assert d.text() == "run r: finished, step 10 of 10\n\nFine.\n\nEvidence:\n  - e1\n\nWhat to try:\n  - a1\n  - a2"
    assert d.to_dict()["advice"] == ["a1", "a2"]


def test_cli_gives_one_line_for_a_broken_config(tmp_path, capsys):
    run = write_run(tmp_path / "run", monitor=[b"\xff"])
    run.config.write_bytes(b"\xff\xfe\x00")
    assert main(["doctor", str(run.path), "--no-sample"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "config.yaml" in err
    run.config.write_text("data: [unclosed")
    assert main(["doctor", str(run.path), "--no-sample"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
