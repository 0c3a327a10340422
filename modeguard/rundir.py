"""The run directory: the one description of every file a run holds.

No other module types these names; they ask a :class:`RunDir` for the path. A run is a
folder with::

    config.yaml          the resolved config (and its history of resumes)
    config.original.yaml the config before the first heal changed it
    metrics.jsonl        losses, D's accuracy, learning rates, speed at log steps
    evals.jsonl          mode metrics at every snapshot
    monitor.jsonl        the collapse monitor's readings
    events.jsonl         the monitor's events (collapse suspected / confirmed, heals)
    heals.json           what each heal changed
    eval.json            the final evaluation
    final_samples.png    samples of the final generator
    report.html          ``modeguard report``
    samples/             snapshots (scatter plots or image grids)
    checkpoints/         step-N.pt, the newest K (plus protected ones)
    abandoned/heal-K/    the branch a heal rolled back (same layout, minus checkpoints;
                         anchor-step-N.pt: the checkpoint it rolled back to)
    tensorboard/         the TensorBoard log (``--tensorboard``)
    .lock                held by the one process that writes the run
"""
from __future__ import annotations

import re
from pathlib import Path

from .errors import CheckpointError

CKPT_RE = re.compile(r"^step-(\d+)\.pt$")
ABANDONED_RE = re.compile(r"^heal-(\d+)$")
ANCHOR_RE = re.compile(r"^anchor-step-(\d+)\.pt$")


class RunDir:
    """Paths of one run's files, and the run's checkpoints.

    ``RunDir(path)`` only names files; nothing is created until a writer asks for it.
    """

    CONFIG = "config.yaml"
    ORIGINAL_CONFIG = "config.original.yaml"
    METRICS = "metrics.jsonl"
    EVALS = "evals.jsonl"
    MONITOR = "monitor.jsonl"
    EVENTS = "events.jsonl"
    HEALS = "heals.json"
    EVAL_JSON = "eval.json"
    FINAL_SAMPLES = "final_samples.png"
    REPORT = "report.html"
    SAMPLES = "samples"
    CHECKPOINTS = "checkpoints"
    ABANDONED = "abandoned"
    LOCK = ".lock"
    TENSORBOARD = "tensorboard"
    #: the logs a resume truncates to its checkpoint's step (rows after it are redone)
    STEP_LOGS = (METRICS, EVALS, MONITOR, EVENTS)

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config = property(lambda self: self.path / self.CONFIG)
    original_config = property(lambda self: self.path / self.ORIGINAL_CONFIG)
    metrics = property(lambda self: self.path / self.METRICS)
    evals = property(lambda self: self.path / self.EVALS)
    monitor = property(lambda self: self.path / self.MONITOR)
    events = property(lambda self: self.path / self.EVENTS)
    heals = property(lambda self: self.path / self.HEALS)
    eval_json = property(lambda self: self.path / self.EVAL_JSON)
    final_samples = property(lambda self: self.path / self.FINAL_SAMPLES)
    report = property(lambda self: self.path / self.REPORT)
    samples_dir = property(lambda self: self.path / self.SAMPLES)
    checkpoint_dir = property(lambda self: self.path / self.CHECKPOINTS)
    abandoned_dir = property(lambda self: self.path / self.ABANDONED)
    lock = property(lambda self: self.path / self.LOCK)
    tensorboard_dir = property(lambda self: self.path / self.TENSORBOARD)

    def step_logs(self) -> list[Path]:
        """The JSON-lines logs whose rows carry a ``step``."""
        return [self.path / name for name in self.STEP_LOGS]

    def sample_path(self, step: int) -> Path:
        """The snapshot picture of ``step``."""
        return self.samples_dir / f"step-{step:08d}.png"

    # ------------------------------------------------------------------ what it is
    def is_run(self) -> bool:
        """True where the folder holds a run's ``config.yaml``."""
        return self.config.is_file()

    def require(self) -> "RunDir":
        """This run directory, or a :class:`CheckpointError` saying why it is not one."""
        if not self.path.is_dir():
            raise CheckpointError(f"run directory not found: {self.path}")
        if not self.is_run():
            raise CheckpointError(f"{self.path} is not a ModeGuard run (no config.yaml)")
        return self

    def holds_anything(self) -> bool:
        """True where the folder exists and is not empty."""
        return self.path.is_dir() and any(self.path.iterdir())

    # ------------------------------------------------------------------ heal branches
    def abandoned(self) -> list["RunDir"]:
        """The branches heals rolled back (``abandoned/heal-K``), oldest first."""
        if not self.abandoned_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.abandoned_dir.iterdir() if (m := ABANDONED_RE.match(p.name))]
        return [RunDir(p) for _, p in sorted(found)]

    def abandoned_branch(self, heal: int) -> "RunDir":
        """Where the branch abandoned by heal number ``heal`` is archived."""
        return RunDir(self.abandoned_dir / f"heal-{heal}")

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_path(self, step: int) -> Path:
        """``checkpoints/step-N.pt`` for ``step``."""
        return self.checkpoint_dir / f"step-{step:08d}.pt"

    def checkpoints(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of every checkpoint, oldest first."""
        if not self.checkpoint_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.checkpoint_dir.iterdir() if (m := CKPT_RE.match(p.name))]
        return sorted(found)

    def anchor_path(self, step: int) -> Path:
        """Where an abandoned branch keeps the checkpoint its heal rolled back to."""
        return self.path / f"anchor-step-{step:08d}.pt"

    def anchor_checkpoints(self) -> list[tuple[int, Path]]:
        """``(step, path)`` of the anchor checkpoints an abandoned branch keeps
        (``anchor-step-N.pt``, the checkpoint its heal rolled back to), oldest first."""
        if not self.path.is_dir():
            return []
        return sorted((int(m.group(1)), p) for p in self.path.iterdir() if (m := ANCHOR_RE.match(p.name)))

    def latest_checkpoint(self) -> Path:
        """The newest checkpoint's path; :class:`CheckpointError` where there is none."""
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
