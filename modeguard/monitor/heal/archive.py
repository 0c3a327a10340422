"""Where a heal puts the branch it abandons, and the record of heals (``heals.json``).

What the collapsed branch wrote after the healthy checkpoint (log rows, samples, its
newest checkpoint) moves to ``RUN_DIR/abandoned/heal-K/``: nothing is deleted but the
branch's older checkpoints, and the run directory again holds one timeline.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ...atomic import atomic_write_bytes
from ...jsonl import read_jsonl, step_of, write_jsonl
from ...rundir import CKPT_RE, RunDir
from ..events import HEAL

def archive_branch(run: RunDir, after_step: int, dest: RunDir, keep_checkpoint: bool = True) -> None:
    """Move what the run wrote after ``after_step`` into ``dest`` (rows, samples, the newest
    checkpoint; older checkpoints of the branch are deleted). Heal events stay: they are
    the run's history."""
    dest.path.mkdir(parents=True, exist_ok=True)
    for path in run.step_logs():
        rows = read_jsonl(path)
        if not rows:
            continue
        keep = [r for r in rows if step_of(r) <= after_step or r.get("kind") == HEAL]
        moved = [r for r in rows if not (step_of(r) <= after_step or r.get("kind") == HEAL)]
        if moved:
            write_jsonl(dest.path / path.name, moved)
            write_jsonl(path, keep)
    later = [(s, p) for s, p in run.checkpoints() if s > after_step]
    for i, (_, p) in enumerate(later):
        if keep_checkpoint and i == len(later) - 1:
            dest.checkpoint_dir.mkdir(exist_ok=True)
            shutil.move(str(p), dest.checkpoint_dir / p.name)
        else:
            p.unlink(missing_ok=True)
    if run.samples_dir.is_dir():
        for png in sorted(run.samples_dir.glob("step-*.png")):
            step = _step_of(png.name)
            if step is not None and step > after_step:
                dest.samples_dir.mkdir(exist_ok=True)
                shutil.move(str(png), dest.samples_dir / png.name)


def _step_of(name: str) -> int | None:
    """The step in a ``step-N.png`` name, or None."""
    stem = name.rsplit(".", 1)[0]
    m = CKPT_RE.match(stem + ".pt")
    return int(m.group(1)) if m else None


class HealRecord:
    """``RUN_DIR/heals.json``: the heals done so far and the next rung to try."""

    def __init__(self, path: Path):
        self.path = path
        self.heals: list[dict] = []
        self.next_rung = 0
        self.exhausted = False
        if path.is_file():
            try:
                d = json.loads(path.read_text())
                self.heals, self.next_rung = list(d.get("heals", [])), int(d.get("next_rung", 0))
                self.exhausted = bool(d.get("exhausted", False))
            except (json.JSONDecodeError, TypeError, ValueError):
                pass

    def save(self) -> None:
        """Write the record atomically."""
        data = {"heals": self.heals, "next_rung": self.next_rung, "exhausted": self.exhausted}
        atomic_write_bytes(self.path, lambda f: f.write(json.dumps(data, indent=2).encode()))
