"""Shared pieces of the fault-injection tests: a tiny run config, the CLI in-process and as a
subprocess, and the one-line-error check every case ends with."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from modeguard.cli import main

#: a run that trains in well under a second (the time is importing torch and evaluating)
TINY_YAML = """\
model_options: {g_hidden: [16, 16], d_hidden: [16, 16], z_dim: 4}
strategies: none
batch_size: 32
eval_samples: 64
log_every: 1
sample_every: 100000
progress: false
"""
#: metrics columns that measure the wall clock, not the training
TIMING = {"steps_per_s", "time_s"}
DOCUMENTED_EXIT_CODES = {0, 2, 3, 4, 5, 130}


def write_tiny_yaml(folder: Path) -> Path:
    path = Path(folder) / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


def cli(capsys, *args) -> tuple[int, str, str]:
    """``modeguard ARGS`` in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def spawn(*args, env: dict | None = None, **kw) -> subprocess.Popen:
    """``python -m modeguard ARGS`` as a child process (stdout/stderr piped, text; ``env``:
    variables set over this process's)."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "modeguard", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def run_child(*args, timeout: float = 120, **kw) -> tuple[int, str, str]:
    proc = spawn(*args, **kw)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def assert_one_line(code: int, err: str, expected_code: int | None = 2, *fragments: str) -> str:
    """``err`` is one ``modeguard: ...`` line without a traceback, and ``code`` is ``expected_code``."""
    assert "Traceback" not in err, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("modeguard: "), lines[0]
    if expected_code is not None:
        assert code == expected_code, (code, err)
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def metrics_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def trained_state(run: Path, step: int) -> dict:
    """What a resume must reproduce of checkpoint ``step``: weights, optimiser and RNG states."""
    state = torch.load(run / "checkpoints" / f"step-{step:08d}.pt", weights_only=True)
    return {k: state[k] for k in ("step", "G", "D", "opt_g", "opt_d", "rng", "torch_rng", "strategies")}
