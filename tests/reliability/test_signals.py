"""SIGTERM and SIGHUP (docker stop, SLURM, Kubernetes) stop a run like Ctrl-C: a checkpoint
at the step reached, one line on stderr, exit 130, and ``--resume`` continues it."""
import os
import signal
import subprocess
import sys
import time

import pytest

from modeguard.cli import main

from .helpers import assert_one_line, run_child, spawn


def wait_for_rows(run, proc, n=3, timeout=60):
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        path = run / "metrics.jsonl"
        if path.is_file() and len(path.read_bytes().splitlines()) >= n:
            return
        time.sleep(0.01)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_stop_signal_saves_a_checkpoint_and_resume_continues(tmp_path, tiny_yaml, capsys, sig):
    run = tmp_path / "run"
    proc = spawn("train", "--config", tiny_yaml, "--steps", 1_000_000, "--ckpt-every", 1_000_000, "--out", run)
    wait_for_rows(run, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    line = assert_one_line(proc.returncode, err, 130, "--resume")
    ckpts = sorted((run / "checkpoints").glob("step-*.pt"))
    assert len(ckpts) == 1, (ckpts, line)  # the only checkpoint is the one the signal saved
    reached = int(ckpts[0].stem.split("-")[1])
    assert reached >= 3 and f"step {reached}" in line
    code = main(["train", "--resume", str(run), "--steps", str(reached + 3)])
    assert code == 0, capsys.readouterr().err
    assert f"at step {reached} of {reached + 3}" in capsys.readouterr().out
    assert (run / "checkpoints" / f"step-{reached + 3:08d}.pt").is_file()


def test_ctrl_c_twice_is_one_line(tmp_path, tiny_yaml):
    run = tmp_path / "run"
    proc = spawn("train", "--config", tiny_yaml, "--steps", 1_000_000, "--ckpt-every", 1_000_000, "--out", run)
    wait_for_rows(run, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert_one_line(proc.returncode, err, 130)


def test_ctrl_c_during_start_up_is_one_line(tmp_path, tiny_yaml):
    """Seen: Ctrl-C before the first step printed a long traceback."""
    run = tmp_path / "run"
    proc = spawn("train", "--config", tiny_yaml, "--steps", 10, "--out", run)
    deadline = time.monotonic() + 60
    while not run.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)  # the folder appears (its lock taken) once imports are done: the run is being built
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal")
    assert_one_line(proc.returncode, err, 130)


def test_ctrl_c_while_pytorch_loads_is_one_line(tmp_path):
    """Seen: Ctrl-C in the second the command spends importing PyTorch, before its main
    function runs, printed a traceback from inside torch. A stand-in ``torch`` whose import is
    interrupted puts the Ctrl-C there every time."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text("raise KeyboardInterrupt\n")
    path = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    code, _, err = run_child("train", "--steps", 1, timeout=60, env=path)
    assert_one_line(128 - code if code < 0 else code, err, 130)  # killed by SIGINT: 130, as a shell reports it
    # a program that imports ModeGuard gets its KeyboardInterrupt as usual
    lib = subprocess.run([sys.executable, "-c", "import modeguard"], capture_output=True, text=True,
                         env={**os.environ, **path}, timeout=60)
    assert lib.returncode != 0 and "Traceback" in lib.stderr and "KeyboardInterrupt" in lib.stderr
