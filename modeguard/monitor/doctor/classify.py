"""Classify step of the doctor: what state the run is in and whether (and when) it collapsed.

:func:`classify` reads a :class:`~.read.RunRecord` and sorts its events and mode counts
into a :class:`Classification`: the run's status (finished, stopped, still running,
crashed), the collapse episodes, divergence, D overpowering, and whether the mode count
at the sample snapshots or the final evaluation says the run lost modes.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ..events import COLLAPSE_CONFIRMED, COLLAPSE_SUSPECTED, D_OVERPOWERING, DIVERGED, RECOVERED, STOPPED, Event
from .read import RunRecord, number

__all__ = ["Classification", "RUNNING_WITHIN_S", "allowed_missing", "classify", "run_status"]

#: a run whose logs changed this recently counts as still going
RUNNING_WITHIN_S = 120


def allowed_missing(num_modes: int | None) -> int:
    """Modes a run may miss and still have them all: none of a few; 1% of many (of 1000 label
    triples a complete generator still misses one or two by chance in 26,000 samples)."""
    return 0 if not num_modes or num_modes <= 100 else math.ceil(0.01 * num_modes)


def run_status(record: RunRecord, last_step: int) -> str:
    """One phrase for the run's state: finished, stopped by the monitor, still running,
    crashed (diverged), or crashed / interrupted."""
    run, total = record.run, record.config.resolved_steps()
    if any(e.kind == STOPPED for e in record.events):
        return "stopped by the monitor (--on-collapse stop)"
    if run.eval_json.is_file() and last_step >= total:
        return "finished"
    logs = [p for p in run.step_logs() if p.is_file()]
    newest = max((p.stat().st_mtime for p in logs), default=0.0)
    if newest and time.time() - newest < RUNNING_WITHIN_S:
        return "still running"
    if any(e.kind == DIVERGED for e in record.events):
        return "crashed (training diverged)"
    return "crashed or interrupted (no final evaluation); resume with 'modeguard train --resume'"


@dataclass
class Classification:
    """The run's state and its collapse story, in events and mode counts.

    ``confirmed`` holds the confirmed collapses of every branch, ``live_confirmed`` those of
    the live timeline; ``open_collapse`` is a live confirmed collapse with no recovery after
    it; ``fell`` says the mode count at the snapshots dropped below its best (``best_eval``)
    by more than ``slack``; ``never_all`` that the final evaluation lacks modes.
    """

    status: str
    last_step: int
    num_modes: int | None
    slack: int
    confirmed: list[Event] = field(default_factory=list)
    live_confirmed: list[Event] = field(default_factory=list)
    recovered_after: list[Event] = field(default_factory=list)
    diverged: list[Event] = field(default_factory=list)
    overpower: list[Event] = field(default_factory=list)
    suspected: list[Event] = field(default_factory=list)
    best_eval: dict | None = None
    fell: bool = False
    never_all: bool = False
    final_modes: int | None = None

    @property
    def open_collapse(self) -> bool:
        """A confirmed collapse on the live timeline that did not recover."""
        return bool(self.live_confirmed) and not self.recovered_after

    @property
    def collapsed(self) -> bool:
        """The run is collapsed now (an open collapse, a fall of the mode count, or modes
        the final evaluation never found)."""
        return self.open_collapse or self.fell or self.never_all

    def collapsed_at(self, evals: list[dict]) -> int | None:
        """The step the collapse began: the last confirmed episode's first bad reading, else
        the first snapshot after the best one that lacks modes; None without a collapse."""
        if self.confirmed:
            return (self.live_confirmed or self.confirmed)[-1].since
        if self.fell:
            best_modes, best_step = number(self.best_eval, "modes", 0), self.best_eval["step"]
            return next(r["step"] for r in evals
                        if r["step"] > best_step and number(r, "modes", 0) < best_modes - self.slack)
        return None


def _events_of(record: RunRecord, kind: str, with_branches: bool = False) -> list[Event]:
    events = record.old_events + record.events if with_branches else record.events
    return [e for e in events if e.kind == kind]


def _snapshot_fall(evals: list[dict], slack: int) -> tuple[dict | None, bool]:
    """The best snapshot (most modes, earliest) and whether the last one has ``slack`` fewer."""
    best = max(evals, key=lambda r: (number(r, "modes", -1), -r["step"]), default=None)
    fell = best is not None and number(evals[-1], "modes", 0) < number(best, "modes", 0) - slack
    return best, fell


def classify(record: RunRecord, num_modes: int | None) -> Classification:
    """Sort ``record``'s events and mode counts into a :class:`Classification`.

    ``num_modes`` is the data's number of known modes (None where it has none).
    """
    last_step = record.last_step()
    slack = allowed_missing(num_modes)
    live_confirmed = _events_of(record, COLLAPSE_CONFIRMED)
    recovered_after = [e for e in _events_of(record, RECOVERED)
                       if live_confirmed and e.step > live_confirmed[-1].step]
    best_eval, fell = _snapshot_fall(record.evals, slack)
    final_modes = number(record.final, "modes")
    never_all = num_modes is not None and final_modes is not None and final_modes < num_modes - slack
    return Classification(
        status=run_status(record, last_step), last_step=last_step, num_modes=num_modes, slack=slack,
        confirmed=_events_of(record, COLLAPSE_CONFIRMED, with_branches=True), live_confirmed=live_confirmed,
        recovered_after=recovered_after, diverged=_events_of(record, DIVERGED),
        overpower=_events_of(record, D_OVERPOWERING, with_branches=True),
        suspected=_events_of(record, COLLAPSE_SUSPECTED), best_eval=best_eval, fell=fell, never_all=never_all,
        final_modes=final_modes)
