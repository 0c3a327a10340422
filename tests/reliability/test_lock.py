"""One writer per run folder: a second writer gets one line (exit 2) naming the holder's pid;
a dead holder never blocks; the lock is re-entrant within a process."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from modeguard.errors import RunLockedError
from modeguard.lock import RunLock, held_by_this_process
from modeguard.rundir import RunDir

from .helpers import assert_one_line, cli

HOLD = textwrap.dedent("""
    import sys, time
    from modeguard.lock import RunLock
    lock = RunLock(sys.argv[1]).acquire()
    print("held", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path):
    """A child process that holds the lock of ``tmp_path / 'run'`` until killed."""
    run = RunDir(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run.lock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield run, proc
    proc.kill()
    proc.wait()


def test_second_writer_is_refused_with_the_holders_pid(holder):
    run, proc = holder
    with pytest.raises(RunLockedError, match=f"process {proc.pid}"):
        RunLock(run.lock).acquire()


def test_a_killed_holder_never_blocks(holder):
    run, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with RunLock(run.lock) as lock:
        assert lock.held and held_by_this_process(run.lock)
    assert not held_by_this_process(run.lock)


def test_reentrant_within_a_process(tmp_path):
    path = tmp_path / "run" / ".lock"
    outer = RunLock(path).acquire()
    with RunLock(path):  # start_run, then Trainer.fit: the same process counts, it is not refused
        with RunLock(path):
            pass
        assert held_by_this_process(path)
    assert held_by_this_process(path)
    outer.release()
    assert not held_by_this_process(path)
    assert open(path).read().strip() == str(os.getpid())


def test_cli_overwrite_and_resume_of_a_folder_being_written(holder, tiny_yaml, capsys):
    """Seen: 'train --out r' and 'train --out r --overwrite' both ran and interleaved metrics.jsonl."""
    run, proc = holder
    (run.path / "notes.txt").write_text("the first writer's")
    code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--steps", 4, "--out", run.path, "--overwrite")
    assert_one_line(code, err, 2, f"process {proc.pid}")
    assert (run.path / "notes.txt").read_text() == "the first writer's"  # nothing removed
    run.config.write_text("data: ring8\n")
    code, _, err = cli(capsys, "train", "--resume", run.path)
    assert_one_line(code, err, 2, f"process {proc.pid}")
