"""Data-parallel training under torchrun (gloo on CPU): 2 processes with global batch B train
to the weights of 1 process with batch B; only rank 0 writes; resume works under DDP."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from modeguard.train import load_checkpoint

ARGS = ["--data", "ring8", "--strategy", "r1:gamma=0.1,ema", "--batch-size", "64", "--log-every", "4",
        "--ckpt-every", "6", "--sample-every", "1000", "--eval-samples", "200", "--no-progress"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def torchrun(*args, nproc=2, timeout=240):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "modeguard", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def single(*args, timeout=240):
    cmd = [sys.executable, "-m", "modeguard", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def weights(run, step):
    state = load_checkpoint(run / "checkpoints" / f"step-{step:08d}.pt")
    return {f"{net}.{k}": v for net in ("G", "D") for k, v in state[net].items()}


def assert_close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_two_processes_train_like_one_with_the_global_batch_and_resume(tmp_path):
    one = single("train", *ARGS, "--steps", "12", "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    part = torchrun("train", *ARGS, "--steps", "6", "--out", tmp_path / "two")
    assert part.returncode == 0, part.stderr[-2000:]
    assert_close(weights(tmp_path / "two", 6), weights(tmp_path / "one", 6))
    more = torchrun("train", "--resume", tmp_path / "two", "--steps", "12")
    assert more.returncode == 0, more.stderr[-2000:]
    assert_close(weights(tmp_path / "two", 12), weights(tmp_path / "one", 12))

    two = tmp_path / "two"
    rows = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 6, 8, 12]  # one writer: no duplicated rows
    solo = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss_d"] == pytest.approx(solo[0]["loss_d"], rel=1e-4)  # the global batch's loss
    config = (two / "config.yaml").read_text()
    assert "world_size: 2" in config
    assert not list(two.rglob("*.tmp"))


@pytest.mark.parametrize("args, says", [
    (["--batch-size", "63"], "batch size 63 does not split over 2 processes"),
    (["--device", "cuda"], "no CUDA device"),
])
def test_bad_settings_under_torchrun_are_one_line(tmp_path, args, says):
    if says == "no CUDA device" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    bad = torchrun("train", "--data", "ring8", "--steps", "2", "--out", tmp_path / "r", "--no-progress", *args,
                   timeout=120)
    assert bad.returncode != 0
    ours = [line for line in bad.stderr.splitlines() if line.startswith("modeguard:")]
    # torchrun ends the other rank once one fails, so it may not get to say it too
    assert 1 <= len(ours) <= 2 and all(says in line for line in ours)
    assert not (tmp_path / "r").exists()
