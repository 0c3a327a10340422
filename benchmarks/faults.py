"""The fault campaign: kill, starve and feed bad input to ``modeguard`` and count what happens.

    python benchmarks/faults.py --kills 8 --seed 0

* SIGKILL x N at random moments of a tiny run: during steps, during a checkpoint write
  (the moment a temp file appears), during a resume, and in a run with healing on; each
  killed run is resumed (``train --resume``, again if that is killed too) and compared
  with an uninterrupted run: weights, optimiser and RNG states, every metrics row.
* Disk full: runs under a file-size limit (``RLIMIT_FSIZE``) must end in one line, exit 5,
  and leave only checkpoints that load.
* Bad inputs: known hostile cases plus random config files; each must end in one line on
  stderr and a documented exit code.

Prints a summary table; every count under "must be 0" must be 0. CPU seconds are the
children's (``getrusage``).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from modeguard.errors import CheckpointError
from modeguard.train.checkpoint import load_checkpoint, same_state

TINY = {"model_options": {"g_hidden": [16, 16], "d_hidden": [16, 16], "z_dim": 4}, "strategies": "none",
        "batch_size": 32, "eval_samples": 64, "log_every": 1, "sample_every": 100000, "progress": False}
STEPS, CKPT_EVERY = 300, 7
DOCUMENTED = {0, 2, 3, 4, 5, 130}
TIMING = {"steps_per_s", "time_s"}
KILL_MOMENTS = ("step", "checkpoint-write", "resume", "heal-mode")


def modeguard(*args, limit=None, wait=True, timeout=600):
    """``python -m modeguard ARGS``: the finished process (``wait``) or the running one."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    pre = (lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))) if limit else None
    proc = subprocess.Popen([sys.executable, "-m", "modeguard", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=pre)
    if wait:
        proc.out, proc.err = proc.communicate(timeout=timeout)
    return proc


def one_line(err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("modeguard: ") and "Traceback" not in err


def train_args(cfg: Path, out: Path, heal: bool = False):
    extra = ["--on-collapse", "heal", "--monitor-every", 50] if heal else []
    return ["train", "--config", cfg, "--steps", STEPS, "--ckpt-every", CKPT_EVERY, "--keep-checkpoints", 2,
            "--out", out, *extra]


def rows(run: Path) -> list[dict]:
    out = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        out.append({k: v for k, v in json.loads(line).items() if k not in TIMING})
    return out


def identical(run: Path, ref: Path) -> bool:
    """Same metrics rows and the same final checkpoint (weights, optimisers, RNG, strategies)."""
    name = f"checkpoints/step-{STEPS:08d}.pt"
    keys = ("step", "G", "D", "opt_g", "opt_d", "rng", "torch_rng", "strategies")
    a, b = load_checkpoint(run / name), load_checkpoint(ref / name)
    return rows(run) == rows(ref) and all(same_state(a[k], b[k]) for k in keys)


def wait_then_kill(proc, run: Path, moment: str, rng: random.Random) -> bool:
    """SIGKILL ``proc`` at ``moment``; False where it ended first."""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if moment == "checkpoint-write":
            if any(p.name.endswith(".tmp") for p in (run / "checkpoints").glob(".*")):
                break
        elif (run / "metrics.jsonl").is_file():
            break
        time.sleep(0.0005 if moment == "checkpoint-write" else 0.005)
    if moment == "resume-process":  # it may be importing, loading or already training again
        time.sleep(rng.uniform(0.5, 4.0))
    elif moment != "checkpoint-write":
        time.sleep(rng.uniform(0.0, 0.5))
    if proc.poll() is not None:
        proc.communicate()
        return False
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return True


def kill_campaign(n: int, cfg: Path, work: Path, rng: random.Random, tally: dict) -> None:
    refs = {}
    for heal in (False, True):
        refs[heal] = work / f"reference-{'heal' if heal else 'plain'}"
        p = modeguard(*train_args(cfg, refs[heal], heal))
        assert p.returncode == 0, p.err
    for i in range(n):
        moment = KILL_MOMENTS[i % len(KILL_MOMENTS)]
        heal = moment == "heal-mode"
        run = work / f"kill-{i}"
        proc = modeguard(*train_args(cfg, run, heal), wait=False)
        tally["kills"] += wait_then_kill(proc, run, moment, rng)
        if moment == "resume":
            resumer = modeguard("train", "--resume", run, wait=False)
            tally["kills"] += wait_then_kill(resumer, run, "resume-process", rng)
        for _ in range(3):
            p = modeguard("train", "--resume", run)
            tally["tracebacks"] += "Traceback" in p.err
            if p.returncode == 0:
                break
        ok = p.returncode == 0 and identical(run, refs[heal])
        tally["resumes"] += 1
        tally["identical"] += ok
        tally["lost"] += not ok
        print(f"  kill {i} ({moment}): resumed {'bit-identical' if ok else 'DIFFERENT: ' + p.err[-300:]}", flush=True)


BAD_INPUTS = [
    ["--strategy", "ema:beta=nan"], ["--strategy", "r1:gamma=inf"], ["--strategy", ",,"],
    ["--strategy", "r1:gamma=1:gamma=2"], ["--threads", "100000"], ["--batch-size", "1000000000"],
    ["--lr", "nan"], ["--seed", "-3"], ["--data", "nowhere.npy"], ["--model", "resnet9000"],
    ["--eval-samples", "1000000000000"], ["--steps", "0"], ["--device", "tpu"],
]
BAD_YAML = ["data: [ring8]\n", "seed: 100000000000000000000\n", "seed: 1e20\n", "model_options: {z_dim: .nan}\n",
            "batch_size: .inf\n", "strategies: [{name: r1, gamma: .nan}]\n", "1: 2\n", "- a list\n", "{{{\n"]


def random_yaml(rng: random.Random) -> str:
    keys = ["data", "seed", "batch_size", "lr_g", "beta1", "steps", "threads", "strategies", "model_options",
            "eval_samples", "n_critic", "log_every", "bogus"]
    values = ["nan", ".inf", "-.inf", "-1", "0", "1e400", "[1, 2]", "{a: 1}", "''", "ring8", "'r1:gamma=-1'",
              "100000000000000000000000", "true", "null", "'ema,,'", "3.5"]
    return "".join(f"{rng.choice(keys)}: {rng.choice(values)}\n" for _ in range(rng.randint(1, 3)))


def bad_input_campaign(n_random: int, cfg: Path, work: Path, rng: random.Random, tally: dict) -> None:
    cases = [["train", "--config", cfg, *flags] for flags in BAD_INPUTS]
    texts = BAD_YAML + [random_yaml(rng) for _ in range(n_random)]
    for i, text in enumerate(texts):
        path = work / f"bad-{i}.yaml"
        path.write_text(text)
        cases.append(["train", "--config", path, "--steps", 3])
    binary = work / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 8)
    cases.append(["train", "--config", binary])
    npz = work / "empty-std.npz"
    np.savez(npz, points=np.random.default_rng(0).normal(size=(50, 2)), centers=np.zeros((1, 2)), std=np.array([]))
    cases.append(["train", "--config", cfg, "--data", npz])
    for i, args in enumerate(cases):
        out = work / f"bad-run-{i}"
        p = modeguard(*args, "--out", out)
        tally["bad inputs"] += 1
        fine = p.returncode == 0  # a random config may well be a valid one
        tally["one-line errors"] += (not fine) and one_line(p.err)
        tally["tracebacks"] += "Traceback" in p.err
        tally["undocumented codes"] += p.returncode not in DOCUMENTED
        tally["folders left"] += (not fine) and out.exists()
        if not fine and not one_line(p.err):
            print(f"  NOT ONE LINE: {args}: {p.err[-300:]}", flush=True)


def disk_full_campaign(cfg: Path, work: Path, tally: dict) -> None:
    for limit in (3000, 6000, 20000, 60000):
        run = work / f"full-{limit}"
        p = modeguard(*train_args(cfg, run), limit=limit)
        tally["disk-full runs"] += 1
        tally["tracebacks"] += "Traceback" in p.err
        tally["undocumented codes"] += p.returncode not in DOCUMENTED
        if p.returncode != 0:
            tally["one-line errors"] += one_line(p.err)
            tally["disk-full one-line exit 5"] += p.returncode == 5 and one_line(p.err)
        for ckpt in sorted((run / "checkpoints").glob("step-*.pt")) if run.exists() else []:
            try:
                load_checkpoint(ckpt)
            except CheckpointError:
                tally["lost"] += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=8, help="SIGKILLed runs (default: 8)")
    ap.add_argument("--random-configs", type=int, default=10, help="random bad config files (default: 10)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments and configs (default: 0)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    keys = ["kills", "resumes", "identical", "bad inputs", "one-line errors", "disk-full runs",
            "disk-full one-line exit 5", "tracebacks", "undocumented codes", "folders left", "lost"]
    tally = dict.fromkeys(keys, 0)
    work = Path(tempfile.mkdtemp(prefix="modeguard-faults-"))
    cfg = work / "tiny.yaml"
    cfg.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in TINY.items()) + "\n")
    try:
        print("kills ...", flush=True)
        kill_campaign(args.kills, cfg, work, rng, tally)
        print("bad inputs ...", flush=True)
        bad_input_campaign(args.random_configs, cfg, work, rng, tally)
        print("disk full ...", flush=True)
        disk_full_campaign(cfg, work, tally)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("\n| what | count |\n|---|---|")
    for k in keys:
        print(f"| {k}{' (must be 0)' if k in ('tracebacks', 'undocumented codes', 'folders left', 'lost') else ''} "
              f"| {tally[k]} |")
    print(f"\nchildren's CPU: {cpu.ru_utime + cpu.ru_stime:.0f} s")


if __name__ == "__main__":
    main()
