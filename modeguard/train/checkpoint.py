"""Atomic checkpoints and the run directory layout.

A checkpoint is a plain dict of tensors and Python scalars written with ``torch.save``
to a temporary file, fsynced, then renamed over the target, so a crash mid-write never
leaves a truncated file under a checkpoint's name. Loading uses ``weights_only=True``:
no code is executed from a checkpoint.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import torch

from ..errors import CheckpointError

CKPT_RE = re.compile(r"^step-(\d+)\.pt$")


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e).strip()
        if text.startswith("Weights only load failed"):
            # torch's message is a page long; the cause that matters fits in a line
            why = "not a PyTorch checkpoint, or it holds objects that a weights-only load refuses to build"
        else:
            why = text.splitlines()[0][:160] if text else type(e).__name__
        raise CheckpointError(f"checkpoint {path} is unreadable or truncated ({why})") from None
    if not isinstance(state, dict) or "step" not in state or "G" not in state:
        raise CheckpointError(f"{path} is not a ModeGuard checkpoint")
    return state


class RunDir:
    """Everything a run leaves behind, in one folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.yaml")
    metrics = property(lambda self: self.path / "metrics.jsonl")
    events = property(lambda self: self.path / "events.jsonl")
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    samples_dir = property(lambda self: self.path / "samples")
    eval_json = property(lambda self: self.path / "eval.json")

    def is_run(self) -> bool:
        return self.config.is_file()

    def require(self) -> "RunDir":
        """This run directory, or a CheckpointError saying why it is not one."""
        if not self.path.is_dir():
            raise CheckpointError(f"run directory not found: {self.path}")
        if not self.is_run():
            raise CheckpointError(f"{self.path} is not a ModeGuard run (no config.yaml)")
        return self

    def holds_anything(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoint_dir / f"step-{step:08d}.pt"

    def checkpoints(self) -> list[tuple[int, Path]]:
        if not self.checkpoint_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.checkpoint_dir.iterdir() if (m := CKPT_RE.match(p.name))]
        return sorted(found)

    def latest_checkpoint(self) -> Path:
        ckpts = self.checkpoints()
        if not ckpts:
            raise CheckpointError(f"{self.path} has no checkpoints")
        return ckpts[-1][1]

    def prune(self, keep: int, protect: set[Path] = frozenset()) -> None:
        """Delete all but the newest ``keep`` checkpoints, never one in ``protect``."""
        ckpts = self.checkpoints()
        for _, p in ckpts[:-keep] if keep > 0 else ckpts:
            if p not in protect:
                p.unlink(missing_ok=True)

    def read_jsonl(self, path: Path) -> list[dict]:
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a crash
        return rows

    def truncate_jsonl(self, path: Path, after_step: int) -> None:
        """Drop rows logged after ``after_step`` (they belong to work a resume redoes)."""
        self.write_jsonl(path, [r for r in self.read_jsonl(path) if r.get("step", 0) <= after_step])

    @staticmethod
    def write_jsonl(path: Path, rows: list[dict]) -> None:
        """Replace ``path`` atomically with one JSON line per row."""
        atomic_write_bytes(path, lambda f: f.write("".join(json.dumps(r) + "\n" for r in rows).encode()))
