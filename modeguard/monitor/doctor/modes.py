"""Which modes a run lost: names for modes, the mode metrics of every checkpoint, and the
modes present at the best point and (nearly) gone at the latest.

Sampling checkpoints is the one costly part of the doctor (each checkpoint is opened and
``n`` samples are drawn and evaluated); it is done only for data with known modes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...rundir import RunDir
from ...train import Trainer
from ..features import point_space
from .read import RunRecord, number

__all__ = ["CheckpointModes", "MAX_LISTED", "checkpoint_modes", "compare_mode_counts", "lost_modes",
           "mode_namer"]

#: modes listed by name at most (with many modes the rest are counted)
MAX_LISTED = 20


@dataclass
class CheckpointModes:
    """Mode metrics of one checkpoint's samples: ``modes`` covered, per-mode ``counts``
    (length = the data's mode count), and the high-quality share ``hq_pct``."""

    step: int
    branch: str  # "main" or "abandoned/heal-K"
    modes: int
    counts: list[int] | None
    hq_pct: float | None = None


def mode_namer(data) -> Callable[[int], str] | None:
    """How to name mode ``i`` of ``data`` to a person (no classifier is built for this):
    its centre for mixtures, its label triple for stacked sets, its class for labelled
    sets; None where the data has no known modes."""
    if data.modes is not None:
        return point_space(data).mode_name
    if getattr(data, "stacked", False):
        classes, channels = int(data.channel_classes), int(data.shape[0])
        return lambda i: "triple " + "-".join(str((i // classes ** p) % classes) for p in range(channels - 1, -1, -1))
    if getattr(data, "labelled", False):
        return lambda i: f"class {i}"
    return None


def _checkpoint_sources(record: RunRecord) -> list[tuple[RunDir, list, str]]:
    """(folder whose config opens them, [(step, path)], branch label) of the live timeline
    and of every abandoned branch (its checkpoints, then its anchor)."""
    sources = [(record.run, record.run.checkpoints(), "main")]
    for b in record.branches:
        sources.append((b.run, b.run.checkpoints() + b.run.anchor_checkpoints(), f"abandoned/{b.run.path.name}"))
    return sources


def _sample_checkpoint(folder: RunDir, step: int, path, label: str, n: int) -> CheckpointModes | None:
    try:
        trainer = Trainer.open(folder.path, checkpoint=path, progress=False, monitor_every=0,
                               on_collapse="warn", tensorboard=False)
        r = trainer.evaluate(samples=trainer.sample_model_space(n, seed=0), prdc=False)
    except Exception:  # an unreadable checkpoint says nothing about modes
        return None
    return CheckpointModes(step, label, int(r.get("modes", 0)), r.get("counts"), r.get("hq_pct"))


def checkpoint_modes(record: RunRecord, n: int) -> list[CheckpointModes]:
    """Mode metrics of ``n`` samples (seed 0) of every checkpoint: the main timeline's and
    each abandoned branch's, opened with that branch's own config. Checkpoints that do not
    open are left out."""
    out = []
    for folder, ckpts, label in _checkpoint_sources(record):
        if not folder.is_run():
            continue
        for step, path in ckpts:
            found = _sample_checkpoint(folder, step, path, label, n)
            if found is not None:
                out.append(found)
    return out


def _counts(value) -> list[int] | None:
    """Per-mode counts where ``value`` is a list of numbers, else None."""
    if isinstance(value, list) and value and all(isinstance(c, (int, float)) for c in value):
        return value
    return None


def lost_modes(ckpts: list[CheckpointModes], monitor_rows: list[dict], mode_name, slack: int = 0) -> list[str]:
    """Modes present at the best point and (nearly) absent at the latest one, when the count
    fell by more than ``slack``: from the main timeline's checkpoints if two or more were
    sampled, else from the monitor's per-mode counts. One line per lost mode."""
    name = mode_name or (lambda i: f"mode {i}")
    main = [c for c in ckpts if c.branch == "main" and c.counts is not None]
    if len(main) >= 2:
        best = max(main, key=lambda c: (c.modes, c.step))
        now = main[-1]
        if now.modes < best.modes - slack:
            return compare_mode_counts(best.counts, now.counts, name, f"step {best.step}", f"step {now.step}")
    rows = [r for r in monitor_rows if _counts(r.get("mode_counts"))]
    if len(rows) >= 2:
        best = max(rows, key=lambda r: (number(r, "modes", 0), r["step"]))
        now = rows[-1]
        if number(now, "modes", 0) < number(best, "modes", 0) - slack:
            return compare_mode_counts(best["mode_counts"], now["mode_counts"], name, f"step {best['step']}",
                                       f"step {now['step']}")
    return []


def compare_mode_counts(best: list[int], now: list[int], name: Callable[[int], str], when_best: str,
                        when_now: str) -> list[str]:
    """The modes lost between two per-mode sample counts, biggest losses first named.

    A mode is lost when it had a fair share at ``best`` (at least 10 samples: fewer can
    vanish by chance) and under a tenth of that share ``now``. At most :data:`MAX_LISTED`
    are named (in mode order), then one line counts the rest.
    """
    total_b, total_n = max(sum(best), 1), max(sum(now), 1)
    lost = []
    for i, (b, c) in enumerate(zip(best, now)):
        if b >= 10 and b / total_b >= 0.2 / len(best) and c / total_n < 0.1 * b / total_b:
            lost.append((b, i, f"{name(i)}: {b} samples at {when_best}, {c} at {when_now}"))
    top = sorted(lost, key=lambda x: -x[0])[:MAX_LISTED]  # the biggest losses, in mode order
    shown = [text for _, _, text in sorted(top, key=lambda x: x[1])]
    if len(lost) > MAX_LISTED:
        shown.append(f"... and {len(lost) - MAX_LISTED} more")
    return shown
