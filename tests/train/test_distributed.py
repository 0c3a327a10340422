"""Data-parallel training under torchrun (gloo on CPU): 2 processes with global batch B train
to the weights of 1 process with batch B and read the monitor as it does; only rank 0 writes;
resume works under DDP; a collapse stops every rank at once; a heal rolls every rank back."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp

from modeguard.config import TrainConfig
from modeguard.train import Trainer, load_checkpoint

ARGS = ["--data", "ring8", "--strategy", "r1:gamma=0.1,ema", "--batch-size", "64", "--log-every", "4",
        "--ckpt-every", "6", "--sample-every", "1000", "--eval-samples", "200", "--monitor-every", "3", "--no-progress"]
#: a tiny run whose monitor checks are scripted (tests/train/ddp_driver.py)
SCRIPTED = ["train", "--data", "ring8", "--strategy", "none", "--batch-size", "32", "--lr", "1e-3", "--log-every", "4",
            "--ckpt-every", "10", "--sample-every", "1000", "--eval-samples", "64", "--monitor-every", "5",
            "--no-progress"]
DRIVER = os.path.join(os.path.dirname(__file__), "ddp_driver.py")


def _env(**extra):
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **extra}


def torchrun(*args, nproc=2, timeout=240, script=None, env=None):
    what = ["-m", "modeguard"] if script is None else [str(x) for x in script]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           *what, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(**(env or {})))


def single(*args, timeout=240, script=None):
    what = ["-m", "modeguard"] if script is None else [str(x) for x in script]
    cmd = [sys.executable, *what, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def scripted(run, collapsed, digests, *args, ranks=2, env=None):
    """A ``SCRIPTED`` run whose monitor checks ``collapsed=(first, last)`` read collapsed, on
    ``ranks`` processes; each rank writes a digest of its final weights into ``digests``."""
    script = [DRIVER, *collapsed, digests]
    if ranks == 1:
        return single(*SCRIPTED, "--out", run, *args, script=script)
    return torchrun(*SCRIPTED, "--out", run, *args, script=script, nproc=ranks, env=env)


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def files(run):
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def weights(run, step):
    state = load_checkpoint(run / "checkpoints" / f"step-{step:08d}.pt")
    return {f"{net}.{k}": v for net in ("G", "D") for k, v in state[net].items()}


def assert_close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def _gather_worker(rank, port):
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    trainer = Trainer(TrainConfig(data="ring8", strategies="none", batch_size=8, progress=False,
                                  model_options={"g_hidden": [8], "d_hidden": [8], "z_dim": 4}))
    made = []
    trainer.ctx.G.register_forward_hook(lambda module, args, out: made.append(len(out)))
    for n, share in ((5, (3, 2)), (1, (1, 1))):  # shares of ceil(n/2); an empty share still makes one
        made.clear()
        gathered = trainer.gather_samples(n, seed=3)
        assert made == [share[rank]], (n, made)
        torch.testing.assert_close(gathered, trainer.sample_model_space(n, seed=3))


def test_ranks_generate_their_share_of_the_samples_and_gather_them():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_gather_worker, args=(port,), nprocs=2)


def test_two_processes_train_like_one_with_the_global_batch_and_resume(tmp_path):
    one = single("train", *ARGS, "--steps", "12", "--out", tmp_path / "one")
    assert one.returncode == 0, one.stderr
    part = torchrun("train", *ARGS, "--steps", "6", "--out", tmp_path / "two")
    assert part.returncode == 0, part.stderr[-2000:]
    assert part.stdout.count("samples: ") == one.stdout.count("samples: ") == 1  # rank 0 alone prints
    assert_close(weights(tmp_path / "two", 6), weights(tmp_path / "one", 6))
    more = torchrun("train", "--resume", tmp_path / "two", "--steps", "12")
    assert more.returncode == 0, more.stderr[-2000:]
    assert_close(weights(tmp_path / "two", 12), weights(tmp_path / "one", 12))

    two = tmp_path / "two"
    logged = rows(two / "metrics.jsonl")
    assert [r["step"] for r in logged] == [4, 6, 8, 12]  # one writer: no duplicated rows
    solo = rows(tmp_path / "one" / "metrics.jsonl")
    assert logged[0]["loss_d"] == pytest.approx(solo[0]["loss_d"], rel=1e-4)  # the global batch's loss
    # the monitor read samples gathered from both ranks: the readings of one process
    readings, solo_readings = rows(two / "monitor.jsonl"), rows(tmp_path / "one" / "monitor.jsonl")
    assert [r["step"] for r in readings] == [r["step"] for r in solo_readings] == [3, 6, 9, 12]
    for r, o in zip(readings, solo_readings):
        assert r["mode_counts"] == o["mode_counts"] and r["n"] == o["n"] == 1000
        for k in ("coverage", "density", "diversity", "hq_pct", "d_real_acc", "d_fake_acc", "loss_d", "loss_g",
                  "grad_norm_g", "grad_norm_d"):
            assert r[k] == pytest.approx(o[k], rel=1e-3, abs=1e-4), (r["step"], k)
    config = (two / "config.yaml").read_text()
    assert "world_size: 2" in config
    assert not list(two.rglob("*.tmp"))


def test_only_rank_zero_shows_a_progress_bar(tmp_path):
    run = torchrun("train", "--data", "ring8", "--strategy", "none", "--batch-size", "32", "--steps", "4",
                   "--eval-samples", "64", "--out", tmp_path / "r")
    assert run.returncode == 0, run.stderr[-2000:]
    starts = [line for line in run.stderr.replace("\r", "\n").splitlines() if line.startswith("train:   0%")]
    assert len(starts) == 1, run.stderr[-2000:]


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


def test_a_confirmed_collapse_stops_every_rank_at_its_step(tmp_path):
    # checks 3.. read collapsed: confirmed at step 25, between two log steps (24, 28)
    res = scripted(tmp_path / "run", (3, 100), tmp_path / "digests", "--steps", "50", "--on-collapse", "stop")
    assert "exitcode: 4" in res.stderr  # each rank exits 4; torchrun itself says 1 for any rank's failure
    assert "modeguard: stopped at step 25: collapse confirmed" in res.stderr
    digests = {p.name: p.read_text() for p in (tmp_path / "digests").iterdir()}
    assert digests.keys() == {"rank-0.txt", "rank-1.txt"}
    assert digests["rank-0.txt"] == digests["rank-1.txt"] and digests["rank-0.txt"].startswith("25 ")
    assert rows(tmp_path / "run" / "metrics.jsonl")[-1]["step"] == 24
    kinds = [e["kind"] for e in rows(tmp_path / "run" / "events.jsonl")]
    assert kinds == ["collapse_suspected", "collapse_confirmed", "stopped"]


def test_heal_rolls_every_rank_back_together(tmp_path):
    # checks 7-9 (steps 35-45) read collapsed: confirmed at 45, rolled back to the healthy step 30
    heal = ["--steps", "60", "--on-collapse", "heal", "--heal-ladder", "lr_g*0.5"]
    two = scripted(tmp_path / "two", (7, 9), tmp_path / "d2", *heal)
    assert two.returncode == 0, two.stderr[-2000:]
    one = scripted(tmp_path / "one", (7, 9), tmp_path / "d1", *heal, ranks=1)
    assert one.returncode == 0, one.stderr[-2000:]
    digests = [(tmp_path / "d2" / f"rank-{r}.txt").read_text() for r in (0, 1)]
    assert digests[0] == digests[1] and digests[0].startswith("60 ")  # the ranks' weights are identical
    run = tmp_path / "two"
    (h,) = json.loads((run / "heals.json").read_text())["heals"]
    assert (h["cause_step"], h["rolled_back_to"], h["change"]) == (45, 30, "lr_g 0.001 -> 0.0005")
    assert [e["kind"] for e in rows(run / "events.jsonl")] == ["heal"]  # the branch's events are archived
    assert [r["step"] for r in rows(run / "abandoned/heal-1/monitor.jsonl")] == [35, 40, 45]
    assert [r["branch"] for r in rows(run / "monitor.jsonl")] == [0] * 6 + [1] * 6
    assert "lr_g: 0.0005" in (run / "config.yaml").read_text()
    # one writer: the same files as the one-process run, which the two ranks trained like
    assert files(run) == files(tmp_path / "one")
    assert_close(weights(run, 60), weights(tmp_path / "one", 60))


def test_a_divergence_heals_every_rank_together(tmp_path):
    # no collapse; G's weights turn NaN after step 33 on every rank: rolled back to step 30
    res = scripted(tmp_path / "run", (1000, 1000), tmp_path / "d", "--steps", "40", "--on-collapse", "heal",
                   "--heal-ladder", "lr_g*0.5", env={"POISON_STEP": "33"})
    assert res.returncode == 0, res.stderr[-2000:]
    digests = [(tmp_path / "d" / f"rank-{r}.txt").read_text() for r in (0, 1)]
    assert digests[0] == digests[1] and digests[0].startswith("40 ")
    (h,) = json.loads((tmp_path / "run" / "heals.json").read_text())["heals"]
    assert (h["cause"], h["rolled_back_to"]) == ("diverged", 30)
