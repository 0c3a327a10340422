"""Resume means continue: identity settings cannot change, the rest is recorded in the
config's history; orphan temp files are cleaned; a corrupt newest checkpoint is skipped."""
import shutil

import pytest
import yaml

from modeguard.config import TrainConfig
from modeguard.runs import resume_run

from .helpers import assert_one_line, cli



@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def test_identity_changes_are_refused_and_listed(run, capsys):
    """Seen: --resume accepted --data/--seed/--batch-size/--strategy and recorded a run that never happened."""
    before = run.joinpath("config.yaml").read_text()
    code, _, err = cli(capsys, "train", "--resume", run, "--data", "grid25", "--seed", 8, "--batch-size", 64,
                       "--strategy", "ema", "--steps", 8)
    line = assert_one_line(code, err, 2)
    for name in ("data", "seed", "batch_size", "strategies"):
        assert name in line, (name, line)
    assert run.joinpath("config.yaml").read_text() == before
    assert not run.joinpath("checkpoints", "step-00000008.pt").exists()


def test_the_same_identity_values_are_fine(run, capsys):
    code, out, err = cli(capsys, "train", "--resume", run, "--seed", 0, "--batch-size", 32, "--steps", 8)
    assert code == 0, err
    assert "at step 6 of 8" in out


def test_allowed_changes_are_recorded_in_history(run, capsys):
    code, _, err = cli(capsys, "train", "--resume", run, "--steps", 8, "--log-every", 2)
    assert code == 0, err
    saved = yaml.safe_load(run.joinpath("config.yaml").read_text())
    assert saved["history"] == [{"step": 6, "changed": {"steps": [6, 8], "log_every": [1, 2]}}]
    assert saved["steps"] == 8 and saved["log_every"] == 2
    assert TrainConfig.load(run / "config.yaml").history == saved["history"]


def test_orphan_temp_files_are_cleaned(run):
    orphans = [run / ".metrics.jsonl.abc123.tmp", run / "checkpoints" / ".step-00000008.pt.xyz.tmp"]
    for p in orphans:
        p.write_bytes(b"half a file")
    resume_run(run, steps=8, progress=False)
    assert not any(p.exists() for p in orphans)


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous(run, capsys):
    newest = run / "checkpoints" / "step-00000006.pt"
    newest.write_bytes(b"garbage" * 10)
    code, out, err = cli(capsys, "train", "--resume", run, "--steps", 8)
    assert code == 0, err
    assert "skipped step-00000006.pt" in out and "at step 4 of 8" in out


def test_a_run_killed_before_its_first_checkpoint_starts_from_step_0(run, capsys):
    shutil.rmtree(run / "checkpoints")
    (run / "metrics.jsonl").unlink()
    code, out, err = cli(capsys, "train", "--resume", run)
    assert code == 0, err
    assert "at step 0 of 6" in out
    assert (run / "checkpoints" / "step-00000006.pt").is_file()


def test_resume_of_a_folder_without_a_run_is_one_line(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--resume", tmp_path)
    assert_one_line(code, err, 2, "config.yaml")
