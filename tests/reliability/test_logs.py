"""Garbage bytes and non-object JSON lines in a run's logs (a crash mid-append, a user's
edit) never break doctor, report or --resume."""
import shutil

import pytest

from .helpers import cli

JUNK = b'\xff\xfe garbage \x00\n[1, 2, 3]\n42\n"text"\nnull\n{"step": "x", "loss_d": [1]}\n{"step": 1e999}\n{"unfinished": '



@pytest.fixture
def spoiled_run(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    for name in ("metrics.jsonl", "evals.jsonl", "monitor.jsonl", "events.jsonl"):
        with open(run / name, "ab") as f:
            f.write(JUNK)
    return run


@pytest.mark.parametrize("command", [["doctor", "{run}", "--no-sample"], ["doctor", "{run}", "--json", "--no-sample"],
                                     ["report", "{run}"], ["train", "--resume", "{run}", "--steps", "8"]])
def test_spoiled_logs(spoiled_run, capsys, command):
    """Seen: garbage bytes or a non-object JSON line in metrics.jsonl broke doctor, report and --resume."""
    code, _, err = cli(capsys, *[a.format(run=spoiled_run) for a in command])
    assert code == 0, err
    assert "Traceback" not in err
