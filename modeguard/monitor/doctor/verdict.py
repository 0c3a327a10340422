"""Verdict step of the doctor: the story of a classified run in plain words.

Each function turns part of a :class:`~.read.RunRecord` and its
:class:`~.classify.Classification` into lines a person reads: the one-sentence
:func:`verdict`, the :func:`evidence`, the :func:`timeline` of events and the
:func:`heal_lines`.
"""
from __future__ import annotations

from ..events import COLLAPSE_CONFIRMED, D_OVERPOWERING, DIVERGED, HEAL, RECOVERED, STOPPED
from .classify import Classification
from .read import RunRecord, number

__all__ = ["evidence", "heal_lines", "timeline", "verdict"]

#: event kinds the timeline tells (suspicions that cleared are left out)
TIMELINE_KINDS = (COLLAPSE_CONFIRMED, RECOVERED, DIVERGED, D_OVERPOWERING, STOPPED, HEAL)


def timeline(record: RunRecord) -> list[str]:
    """The run's story in time order, abandoned branches first (they happened before their heal)."""
    old = record.old_events
    lines = []
    for e in sorted(old + record.events, key=lambda e: (e.branch, e.step)):
        if e.kind in TIMELINE_KINDS:
            where = f" (branch {e.branch}, later abandoned)" if any(e is o for o in old) else ""
            lines.append(f"step {e.step}{where}: {e.message}")
    return lines


def _final_line(record: RunRecord, c: Classification) -> list[str]:
    if c.final_modes is None or c.num_modes is None:
        return []
    hq = number(record.final, "hq_pct")
    hq_text = f", {hq:.1f}% high quality" if hq is not None else ""
    return [f"final evaluation: {c.final_modes}/{c.num_modes} modes{hq_text}"]


def evidence(record: RunRecord, c: Classification) -> list[str]:
    """Why the verdict says what it says: the last confirmed collapse's figures, a fall of
    the mode count at the snapshots, the final evaluation; else the monitor's last reading."""
    lines = []
    for e in (c.live_confirmed or c.confirmed)[-1:]:
        before = "before the heal: " if not c.live_confirmed else ""
        lines += [f"{before}{ev.describe()} (at step {e.step})" for ev in e.evidence]
    if c.fell:
        best, last = c.best_eval, record.evals[-1]
        lines.append(f"mode count at the sample snapshots fell from {number(best, 'modes')} (step "
                     f"{best['step']}) to {number(last, 'modes', 0)} (step {last['step']})")
    lines += _final_line(record, c)
    if record.monitor and not lines:
        last = record.monitor[-1]
        if number(last, "modes") is not None:
            coverage = number(last, "coverage", float("nan"))
            lines.append(f"last monitor reading (step {last['step']}): {int(last['modes'])} modes alive, "
                         f"coverage {coverage:.2f}")
    return lines


def heal_lines(record: RunRecord) -> list[str]:
    """One line per heal (cause, rollback, change, notes), and a last one when heals ran out."""
    lines = []
    for h in record.heals:
        notes = f" ({'; '.join(h['notes'])})" if h.get("notes") else ""
        lines.append(f"heal {h['heal']}: {str(h['cause']).replace('_', ' ')} at step {h['cause_step']} -> rolled "
                     f"back to step {h['rolled_back_to']}, {h['change']}" + notes)
    if any(e.kind == HEAL and e.details.get("exhausted") for e in record.events):
        lines.append("no heal left after that: the run went on without healing")
    return lines


def _healed_verdict(n_heals: int, collapsed: bool, ends: str | None) -> str:
    heals = f"{n_heals} heal{'s' * (n_heals > 1)}"
    if collapsed:
        return f"The run collapsed and was healed ({heals}), but it is still collapsed" + (
            f": it ends with {ends}." if ends else ".")
    return f"The run collapsed and was healed ({heals}); " + (f"it ends with {ends}." if ends else
                                                              "it has not finished yet.")


def verdict(record: RunRecord, c: Classification, collapsed_at: int | None) -> str:
    """The diagnosis in one or two sentences: diverged, healed, collapsed, never covered
    every mode, recovered, nothing recorded yet, or no collapse seen."""
    ends = f"{c.final_modes}/{c.num_modes} modes" if c.final_modes is not None and c.num_modes else None
    when = f" from step {collapsed_at}" if collapsed_at is not None else ""
    if c.diverged and not record.heals:
        return f"Training diverged at step {c.diverged[-1].step}: the losses became non-finite."
    if record.heals:
        return _healed_verdict(len(record.heals), c.collapsed, ends)
    if c.open_collapse or c.fell:
        return f"The run collapsed{when} and did not recover" + (f": it ends with {ends}." if ends else ".")
    if c.never_all:
        return f"The run never covered every mode: it ends with {ends} (a partial collapse{when})."
    if c.live_confirmed and c.recovered_after:
        return (f"The run collapsed at step {c.live_confirmed[-1].since} but recovered by step "
                f"{c.recovered_after[0].step}" + (f"; it ends with {ends}." if ends else "."))
    if not record.monitor and not record.evals:
        return "No collapse figures were recorded yet (no monitor readings, no sample snapshots)."
    cleared = f" The monitor raised {len(c.suspected)} suspicion(s) that cleared." if c.suspected else ""
    return "No collapse seen" + (f" ({ends})." if ends else ".") + cleared
