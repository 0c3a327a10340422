"""The doctor's answer, :class:`Diagnosis`, and :func:`diagnose`, which runs the four steps:
read (:mod:`.read`) -> classify (:mod:`.classify`) -> verdict (:mod:`.verdict`, with the
lost modes of :mod:`.modes`) -> advice (:mod:`.advice`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...data import resolve_data
from .advice import advice
from .classify import classify
from .modes import CheckpointModes, checkpoint_modes, lost_modes, mode_namer
from .read import RunRecord, read_run
from .verdict import evidence, heal_lines, timeline, verdict

__all__ = ["Diagnosis", "diagnose", "doctor_text", "explain"]


@dataclass
class Diagnosis:
    """What happened to a run, in plain words.

    ``status`` is the run's state (finished, stopped, still running, crashed); ``step`` of
    ``total_steps`` how far it got; ``verdict`` one or two sentences; ``collapsed`` whether
    it is collapsed now, ``collapsed_at`` the step the collapse began. The lists hold one
    line each: ``evidence``, ``lost_modes`` (by name), ``heals``, ``advice``, ``timeline``.
    ``checkpoints`` are the sampled checkpoints' mode metrics, ``num_modes`` the data's mode
    count (None where unknown), ``final`` the numbers of the final evaluation.
    """

    run: str
    status: str
    step: int
    total_steps: int
    verdict: str
    collapsed: bool
    collapsed_at: int | None = None
    evidence: list[str] = field(default_factory=list)
    lost_modes: list[str] = field(default_factory=list)
    heals: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)
    checkpoints: list[CheckpointModes] = field(default_factory=list)
    num_modes: int | None = None
    final: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Its JSON form (``modeguard doctor --json``): every field, checkpoints as objects."""
        return asdict(self)

    def text(self) -> str:
        """The report ``modeguard doctor`` prints: status, verdict, then each non-empty section."""
        lines = [f"run {self.run}: {self.status}, step {self.step} of {self.total_steps}", "", self.verdict]
        sections = [("Evidence", self.evidence), ("Modes lost", self.lost_modes), ("Healing", self.heals),
                    ("Timeline", self.timeline), ("What to try", self.advice)]
        for title, items in sections:
            if items:
                lines += ["", f"{title}:"] + [f"  - {x}" for x in items]
        return "\n".join(lines)


def _num_modes(data) -> int | None:
    return len(data.modes.centers) if data.modes is not None else getattr(data, "num_modes", None)


def diagnose(run_dir: str | Path, sample_checkpoints: bool = True, n: int = 2500) -> Diagnosis:
    """Read the run in ``run_dir`` (finished, stopped, crashed or still going) and explain it.

    With ``sample_checkpoints`` and data of known modes, ``n`` samples of every checkpoint
    are evaluated to name the modes lost between the best checkpoint and the latest.
    Raises :class:`~modeguard.errors.CheckpointError` where ``run_dir`` is no run,
    :class:`~modeguard.errors.ConfigError` / :class:`~modeguard.errors.DataError` where its
    config or data cannot be read. Unreadable lines of its logs are skipped.
    """
    return explain(read_run(run_dir), sample_checkpoints, n)


def explain(record: RunRecord, sample_checkpoints: bool = True, n: int = 2500) -> Diagnosis:
    """:func:`diagnose` of a run already read with :func:`~.read.read_run`."""
    data = resolve_data(record.config.data)
    num_modes = _num_modes(data)
    c = classify(record, num_modes)
    d = Diagnosis(str(record.run.path), c.status, c.last_step, record.config.resolved_steps(), "", c.collapsed,
                  collapsed_at=c.collapsed_at(record.evals), num_modes=num_modes, final=record.final_numbers())
    if sample_checkpoints and data.modes is not None:
        d.checkpoints = checkpoint_modes(record, n)
    d.timeline = timeline(record)
    d.evidence = evidence(record, c)
    d.lost_modes = lost_modes(d.checkpoints, record.monitor, mode_namer(data), c.slack)
    d.heals = heal_lines(record)
    d.verdict = verdict(record, c, d.collapsed_at)
    d.advice = advice(record, c)
    return d


def doctor_text(run_dir: str | Path, sample_checkpoints: bool = True) -> str:
    """:func:`diagnose`'s plain-text report of ``run_dir`` (see :meth:`Diagnosis.text`)."""
    return diagnose(run_dir, sample_checkpoints).text()
