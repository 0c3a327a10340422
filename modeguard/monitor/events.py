"""Typed events the collapse monitor and the healer raise, and their JSON form.

One event is one line of ``RUN_DIR/events.jsonl``. Every event carries the step it
happened at and a one-line message; monitor events also carry their :class:`Evidence`
(which figure, its value, its healthy level, how far from it, since which step), heal
events carry what was done in ``details``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..jsonl import append_jsonl, read_jsonl

COLLAPSE_SUSPECTED = "collapse_suspected"
COLLAPSE_CONFIRMED = "collapse_confirmed"
RECOVERED = "recovered"
DIVERGED = "diverged"
D_OVERPOWERING = "d_overpowering"
HEAL = "heal"
STOPPED = "stopped"

#: every kind an event may have; the first five come from the monitor, the rest from the healer
EVENT_KINDS = (COLLAPSE_SUSPECTED, COLLAPSE_CONFIRMED, RECOVERED, DIVERGED, D_OVERPOWERING, HEAL, STOPPED)


def _num(x):
    """JSON has no NaN/inf: write them as strings, read them back as floats."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


def _from_num(x):
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    return x


def _float(x) -> float:
    """A number written by :func:`_num` back as a float; ``ValueError`` / ``TypeError`` for
    anything else (the event that holds it is not readable)."""
    x = _from_num(x)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"not a number: {x!r}")
    return float(x)


def _optional_int(x) -> int | None:
    return None if x is None else int(x)


@dataclass
class Evidence:
    """One figure that is away from its healthy level.

    ``basis`` says where the healthy level comes from: ``"learned"`` (the best level this
    run held after its warm-up), ``"ideal"`` (what real data scores, e.g. every known
    mode), or ``"finite"`` / ``"bound"`` (a fixed limit). ``deviation`` is the relative
    shortfall ``(healthy - value) / healthy`` for figures where higher is better (so 0.5
    means "half of its healthy level"), ``value - healthy`` for D's accuracy, and ``inf``
    for a non-finite value.
    """

    figure: str
    value: float
    healthy: float
    threshold: float
    deviation: float
    since: int | None = None
    basis: str = "learned"
    #: why a level below the ideal counts now (no progress, or too slow to get there)
    note: str = ""

    def describe(self) -> str:
        """One line for a person: the figure, its value against its healthy level, since when."""

        def fmt(v):
            if isinstance(v, float) and v.is_integer() and abs(v) < 1e6:
                return str(int(v))
            return f"{v:.3g}" if isinstance(v, float) else str(v)

        if not math.isfinite(self.value):
            text = f"{self.figure} is {self.value}"
        elif self.basis == "bound":
            text = f"{self.figure} {fmt(self.value)} above the healthy limit {fmt(self.threshold)}"
        else:
            where = {"learned": "this run's healthy level", "ideal": "what real data scores"}.get(self.basis, "healthy")
            pct = f", {100 * self.deviation:.0f}% below" if math.isfinite(self.deviation) and self.deviation > 0 else ""
            text = f"{self.figure} {fmt(self.value)} vs {fmt(self.healthy)} ({where}{pct})"
        if self.since is not None:
            text += f" since step {self.since}"
        if self.note:
            text += f" ({self.note})"
        return text

    def to_dict(self) -> dict:
        """Its JSON form (non-finite numbers as the strings ``"nan"``, ``"inf"``, ``"-inf"``)."""
        return {k: _num(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "Evidence":
        """Read back :meth:`to_dict`'s form; unknown keys are ignored.

        Raises ``KeyError`` / ``TypeError`` / ``ValueError`` where a field is missing or of
        the wrong type (:func:`read_events` then skips the event).
        """
        if not isinstance(d, dict):
            raise TypeError(f"evidence must be an object, got {type(d).__name__}")
        known = set(cls.__dataclass_fields__)
        values = {k: _from_num(v) for k, v in d.items() if k in known}
        for name in ("value", "healthy", "threshold", "deviation"):
            values[name] = _float(d[name])
        values["since"] = _optional_int(values.get("since"))
        values["figure"] = str(d["figure"])
        for name in ("basis", "note"):
            if name in values:
                values[name] = str(values[name])
        return cls(**values)


@dataclass
class Event:
    """Something the monitor or healer wants a person to know, at ``step``.

    ``kind`` is one of :data:`EVENT_KINDS`; ``since`` is the step the condition began
    (for a confirmed collapse: its first bad reading); ``branch`` counts the heals before
    the event (0 = the run as first started).
    """

    kind: str
    step: int
    message: str
    evidence: list[Evidence] = field(default_factory=list)
    since: int | None = None
    branch: int = 0
    details: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"[{self.kind}] step {self.step}: {self.message}"

    def to_dict(self) -> dict:
        """Its JSON form: one line of ``events.jsonl``."""
        return {"kind": self.kind, "step": int(self.step), "message": self.message,
                "evidence": [e.to_dict() for e in self.evidence], "since": self.since,
                "branch": self.branch, "details": _json_safe(self.details)}

    @classmethod
    def from_dict(cls, d: dict) -> "Event":
        """Read back :meth:`to_dict`'s form.

        Raises ``KeyError`` / ``TypeError`` / ``ValueError`` where ``kind`` or ``step`` is
        missing or a field has the wrong type (:func:`read_events` then skips the event).
        """
        details = d.get("details") or {}
        if not isinstance(details, dict):
            raise TypeError("details must be an object")
        return cls(kind=str(d["kind"]), step=int(d["step"]), message=str(d.get("message", "")),
                   evidence=[Evidence.from_dict(e) for e in d.get("evidence") or []],
                   since=_optional_int(d.get("since")), branch=int(d.get("branch") or 0), details=details)


def _json_safe(x):
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    return _num(x)


def append_events(path: str | Path, events) -> None:
    """Append ``events`` (an iterable of :class:`Event`), one JSON object a line, to ``path``
    (its folder is created)."""
    events = list(events)
    if not events:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_jsonl(path, [e.to_dict() for e in events])


def read_events(path: str | Path) -> list[Event]:
    """The events of a JSON-lines file, in order; ``[]`` where it is missing.

    A line cut short by a crash, garbage bytes, JSON that is not an object and an object
    that is not an event (a field missing or of the wrong type) are skipped, never raised.
    """
    out = []
    for row in read_jsonl(path):
        try:
            out.append(Event.from_dict(row))
        except (KeyError, TypeError, ValueError, OverflowError):
            continue
    return out
