"""SIGKILL at a random moment (during steps, checkpoint writes, or a resume), then
``--resume``: the run finishes bit-identical to one that was never interrupted."""
import random
import signal
import time

import pytest

from modeguard.cli import main
from modeguard.train.checkpoint import same_state

from .helpers import metrics_rows, spawn, trained_state

STEPS, CKPT_EVERY = 300, 7


def train_args(tiny_yaml, out):
    return ["train", "--config", tiny_yaml, "--steps", STEPS, "--ckpt-every", CKPT_EVERY, "--keep-checkpoints", 2,
            "--out", out]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_yaml):
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main([str(a) for a in train_args(tiny_yaml, out)]) == 0
    return out


def kill_when_training(proc, run, delay: float) -> bool:
    """SIGKILL ``proc`` ``delay`` s after its first metrics row; False where it ended first."""
    deadline = time.monotonic() + 60
    while not (run / "metrics.jsonl").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def assert_same_run(a, b):
    assert metrics_rows(a) == metrics_rows(b)
    assert same_state(trained_state(a, STEPS), trained_state(b, STEPS))


@pytest.mark.parametrize("seed", [1])
def test_kill_then_resume_is_bit_identical(reference, tmp_path, tiny_yaml, capsys, seed):
    delay = random.Random(seed).uniform(0.0, 0.4)
    run = tmp_path / "run"
    proc = spawn(*train_args(tiny_yaml, run))
    killed = kill_when_training(proc, run, delay)
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    assert_same_run(reference, run)
    if not killed:
        pytest.skip("the run ended before the kill (a slow start); compared without one")


def test_kill_during_a_resume_then_resume_again(reference, tmp_path, tiny_yaml, capsys):
    run = tmp_path / "run"
    first = spawn(*train_args(tiny_yaml, run))
    kill_when_training(first, run, 0.05)
    second = spawn("train", "--resume", run)
    kill_when_training(second, run, 0.1)
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    assert_same_run(reference, run)
