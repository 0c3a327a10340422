"""Checkpoint integrity: well-formed files with wrong content, foreign files and malicious
pickles are one-line CheckpointErrors; nothing in a checkpoint ever runs."""
import io
import pickle
import shutil

import pytest
import torch

from modeguard.errors import CheckpointError
from modeguard.rundir import RunDir
from modeguard.train.checkpoint import load_checkpoint, load_newest_checkpoint, save_checkpoint

from .helpers import assert_one_line, cli


def good_state(step=2) -> dict:
    return {"format": 2, "step": step, "total_steps": 4, "G": {"w": torch.ones(2)}, "D": {"w": torch.ones(2)},
            "opt_g": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]},
            "opt_d": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]},
            "rng": torch.get_rng_state(), "torch_rng": torch.get_rng_state(), "strategies": {}, "callbacks": {}}


WRONG = {
    "G an int": ("G", 3),
    "G holds a string": ("G", {"w": "weights"}),
    "step a string": ("step", "2"),
    "step negative": ("step", -1),
    "step a bool": ("step", True),
    "rng a float tensor": ("rng", torch.zeros(4)),
    "torch_rng a list": ("torch_rng", [1, 2, 3]),
    "opt_d without state": ("opt_d", {"param_groups": []}),
    "strategies a list": ("strategies", ["ema"]),
    "callbacks a tensor": ("callbacks", torch.ones(1)),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_content_is_a_checkpoint_error_naming_the_field(tmp_path, case):
    """Seen: 'G' an int, 'step' a string or negative, 'rng' of the wrong type gave tracebacks."""
    field, value = WRONG[case]
    path = tmp_path / "step-00000002.pt"
    save_checkpoint(path, {**good_state(), field: value})
    with pytest.raises(CheckpointError, match=f"'{field}'"):
        load_checkpoint(path)


def test_a_trainer_checkpoint_missing_a_field(tmp_path):
    state = good_state()
    del state["opt_g"]
    save_checkpoint(tmp_path / "c.pt", state)
    with pytest.raises(CheckpointError, match="lacks opt_g"):
        load_checkpoint(tmp_path / "c.pt")


class Payload:
    """Unpickling this runs ``touch``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("kind", ["malicious", "foreign-list", "foreign-pickle", "empty", "garbage"])
def test_foreign_and_malicious_files(tmp_path, kind):
    path, marker = tmp_path / "c.pt", tmp_path / "pwned"
    if kind == "malicious":
        buf = io.BytesIO()
        torch.save({"step": 1, "G": {}, "x": Payload(marker)}, buf)
        path.write_bytes(buf.getvalue())
    elif kind == "foreign-list":
        torch.save([1, 2, 3], path)
    elif kind == "foreign-pickle":
        path.write_bytes(pickle.dumps({"step": 1, "G": Payload(marker)}))
    else:
        path.write_bytes(b"" if kind == "empty" else b"\x00garbage\xff" * 50)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert "\n" not in str(e.value)
    assert not marker.exists()


def test_newest_loadable_checkpoint_and_its_notes(tmp_path):
    run = RunDir(tmp_path)
    for step in (2, 4, 6):
        save_checkpoint(run.checkpoint_path(step), good_state(step))
    run.checkpoint_path(6).write_bytes(b"cut short")
    save_checkpoint(run.checkpoint_path(4), {**good_state(4), "step": "four"})
    path, state, notes = load_newest_checkpoint(run)
    assert path == run.checkpoint_path(2) and state["step"] == 2
    assert len(notes) == 2 and "step-00000006.pt" in notes[0] and "step-00000004.pt" in notes[1]
    run.checkpoint_path(2).write_bytes(b"")
    with pytest.raises(CheckpointError, match="none of the 3 checkpoints"):
        load_newest_checkpoint(run)



@pytest.mark.parametrize("command", ["sample", "eval", "resume"])
def test_cli_with_only_bad_checkpoints_is_one_line(finished_run, tmp_path, capsys, command):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    for p in (run / "checkpoints").iterdir():
        state = torch.load(p, weights_only=True)
        save_checkpoint(p, {**state, "G": 7})
    args = {"sample": ["sample", run, "-o", tmp_path / "s.npy"], "eval": ["eval", run],
            "resume": ["train", "--resume", run, "--steps", 6]}[command]
    code, _, err = cli(capsys, *args)
    assert_one_line(code, err, 2, "'G' must be a dict of tensors")
