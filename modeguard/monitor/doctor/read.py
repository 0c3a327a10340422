"""Read step of the doctor: everything a run left on disk, cleaned of what a crash or a user
may have left behind.

A run may be finished, stopped, crashed or still going, and its files may hold lines cut
short, garbage bytes or JSON that is not what it should be. :func:`read_run` keeps what
can be read: log rows whose ``step`` is a number, events that parse, heal records with
their fields, the final evaluation if it is a JSON object. Only an unreadable
``config.yaml`` (or a folder that is no run at all) is an error.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from ...config import TrainConfig
from ...jsonl import read_jsonl
from ...rundir import RunDir
from ..events import Event, read_events

__all__ = ["Branch", "HEAL_FIELDS", "RunRecord", "is_number", "number", "read_json_object", "read_run",
           "step_rows"]

#: the fields every record of ``heals.json`` carries
HEAL_FIELDS = ("heal", "cause", "cause_step", "rolled_back_to", "change")


def is_number(value) -> bool:
    """True for a finite int or float (not a bool): a value a figure can be read from."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(row: dict, key: str, default=None):
    """``row[key]`` where it is a finite number, else ``default``."""
    value = row.get(key)
    return value if is_number(value) else default


def step_rows(rows: list[dict]) -> list[dict]:
    """The rows whose ``step`` is a number, with ``step`` made an int; others say nothing
    about when, so they are dropped."""
    return [{**r, "step": int(r["step"])} for r in rows if is_number(r.get("step"))]


def read_json_object(path) -> dict:
    """The JSON object in ``path``; ``{}`` where the file is missing, unreadable or holds
    something other than an object."""
    try:
        value = json.loads(path.read_bytes().decode("utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _heal_records(value) -> list[dict]:
    """The records of ``heals.json`` that carry every field of :data:`HEAL_FIELDS`."""
    heals = value.get("heals") if isinstance(value, dict) else None
    if not isinstance(heals, list):
        return []
    kept = [h for h in heals if isinstance(h, dict) and all(k in h for k in HEAL_FIELDS)]
    for h in kept:  # notes are optional; anything but a list of strings is dropped
        notes = h.get("notes")
        h["notes"] = [str(n) for n in notes] if isinstance(notes, list) else []
    return kept


@dataclass
class Branch:
    """One abandoned branch of a healed run: the timeline heal number ``heal`` rolled back."""

    heal: int
    run: RunDir
    events: list[Event] = field(default_factory=list)
    monitor: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How the report names it: ``"abandoned before heal K"``."""
        return f"abandoned before heal {self.heal}"


@dataclass
class RunRecord:
    """What a run left on disk, cleaned: the ``config``, the step logs (``metrics``,
    ``monitor``, ``evals``: rows with an int ``step``), the live timeline's ``events``, the
    abandoned ``branches`` oldest first, the ``heals`` records and the ``final`` evaluation
    (``{}`` before it exists)."""

    run: RunDir
    config: TrainConfig
    metrics: list[dict] = field(default_factory=list)
    monitor: list[dict] = field(default_factory=list)
    evals: list[dict] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    branches: list[Branch] = field(default_factory=list)
    heals: list[dict] = field(default_factory=list)
    final: dict = field(default_factory=dict)

    @property
    def old_events(self) -> list[Event]:
        """The events of every abandoned branch, oldest branch first."""
        return [e for b in self.branches for e in b.events]

    def last_step(self) -> int:
        """The newest step any log or checkpoint reached (0 for an empty run)."""
        steps = [r["step"] for r in self.metrics + self.monitor] + [s for s, _ in self.run.checkpoints()]
        return max(steps + [0])

    def final_numbers(self) -> dict:
        """The final evaluation's numeric figures (bools and lists left out)."""
        return {k: v for k, v in self.final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _branch(heal: int, branch: RunDir) -> Branch:
    return Branch(heal, branch, read_events(branch.events), step_rows(read_jsonl(branch.monitor)),
                  step_rows(read_jsonl(branch.metrics)))


def read_run(run_dir) -> RunRecord:
    """Read the run in ``run_dir``.

    Raises :class:`~modeguard.errors.CheckpointError` where the folder is missing or holds no
    ``config.yaml``, :class:`~modeguard.errors.ConfigError` where that file is unreadable.
    """
    run = RunDir(run_dir).require()
    branches = [_branch(int(b.path.name.split("-")[1]), b) for b in run.abandoned()]
    return RunRecord(run, TrainConfig.load(run.config), metrics=step_rows(read_jsonl(run.metrics)),
                     monitor=step_rows(read_jsonl(run.monitor)), evals=step_rows(read_jsonl(run.evals)),
                     events=read_events(run.events), branches=branches,
                     heals=_heal_records(read_json_object(run.heals)), final=read_json_object(run.eval_json))
