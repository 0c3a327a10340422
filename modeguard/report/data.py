"""What the reports show, read from disk and arranged in rows; no HTML and no drawing here.

For a run: :func:`read_run_report` gathers the run's files (through
:func:`~modeguard.monitor.doctor.read_run`), its diagnosis and its sample pictures into a
:class:`RunReportData`; the ``*_rows`` functions lay its tables out. For a benchmark folder:
:func:`read_bench_results` parses ``results.csv`` and :class:`BenchData` groups its rows.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import TrainConfig
from ..errors import ConfigError, DataError
from ..monitor.doctor import Diagnosis, RunRecord, explain, read_run
from ..monitor.events import HEAL, Event

__all__ = ["BENCH_RESULTS", "BenchData", "FINAL_KEYS", "NUMERIC", "RunReportData", "event_rows", "final_row",
           "heal_rows", "mean_std", "read_bench_results", "read_run_report", "setup_rows"]

#: the file ``modeguard bench`` writes in its output folder, one row per run
BENCH_RESULTS = "results.csv"
#: the final evaluation's figures the run report shows, in this order, where present
FINAL_KEYS = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage",
              "fd_clf", "classifier_acc"]
#: the numeric columns of a benchmark's results
NUMERIC = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage", "seconds"]


# ---------------------------------------------------------------------- run
@dataclass
class RunReportData:
    """Everything a run report shows: the run's files (``record``), its ``diagnosis``, the
    config before healing (``original_config``, None for a run never healed), and the sample
    pictures: ``snapshots`` of the live timeline, ``final_samples`` (None before the end),
    and ``branch_snapshots`` as (branch label, pictures) of each abandoned branch."""

    record: RunRecord
    diagnosis: Diagnosis
    original_config: TrainConfig | None = None
    snapshots: list[Path] = field(default_factory=list)
    final_samples: Path | None = None
    branch_snapshots: list[tuple[str, list[Path]]] = field(default_factory=list)


def _snapshots(samples_dir: Path) -> list[Path]:
    return sorted(samples_dir.glob("step-*.png")) if samples_dir.is_dir() else []


def _original_config(record: RunRecord) -> TrainConfig | None:
    path = record.run.original_config
    if not path.is_file():
        return None
    try:
        return TrainConfig.load(path)
    except ConfigError:  # the live config still describes the run; the history is a bonus
        return None


def read_run_report(run_dir: str | Path) -> RunReportData:
    """Read the run in ``run_dir`` and diagnose it (checkpoints sampled, as ``modeguard doctor``).

    Raises :class:`~modeguard.errors.CheckpointError` where it is no run, and whatever
    :func:`~modeguard.monitor.doctor.diagnose` raises for an unreadable config or data.
    """
    record = read_run(run_dir)
    run = record.run
    return RunReportData(
        record=record, diagnosis=explain(record), original_config=_original_config(record),
        snapshots=_snapshots(run.samples_dir),
        final_samples=run.final_samples if run.final_samples.is_file() else None,
        branch_snapshots=[(b.label, _snapshots(b.run.samples_dir)) for b in record.branches])


def _strategies_text(config: TrainConfig) -> str:
    return ", ".join(config.to_dict()["strategies"]) or "none (plain GAN)"


def setup_rows(data: RunReportData) -> list[list]:
    """The "Run" table: (what, value) rows of data, model, strategies, steps, seed, learning
    rates and the monitor's settings (and the strategies before healing, if healed)."""
    config, diag = data.record.config, data.diagnosis
    monitor = (f"every {config.monitor_every} steps, on collapse: {config.on_collapse}"
               if config.monitor_every else "off")
    rows = [["data", config.data], ["model / loss", f"{config.model} / {config.loss}"],
            ["strategies", _strategies_text(config)],
            ["steps", f"{diag.step} of {diag.total_steps} ({diag.status})"], ["seed", config.seed],
            ["learning rates", f"G {config.lr_g:g}, D {config.lr_d:g}"], ["collapse monitor", monitor]]
    if data.original_config is not None:
        rows.insert(3, ["strategies before healing", _strategies_text(data.original_config)])
    return rows


def final_row(final: dict) -> tuple[list[str], list]:
    """(column names, values) of the final evaluation's :data:`FINAL_KEYS` present in ``final``."""
    shown = [k for k in FINAL_KEYS if k in final]
    return shown, [final[k] for k in shown]


def heal_rows(heals: list[dict]) -> list[list]:
    """The "Healing" table: heal number, cause, at step, rolled back to, change, notes."""
    return [[h["heal"], str(h["cause"]).replace("_", " "), h["cause_step"], h["rolled_back_to"], h["change"],
             "; ".join(h.get("notes", [])) or "-"] for h in heals]


def event_rows(record: RunRecord) -> list[tuple[Event, str]]:
    """Every event with the branch it belongs to, in the order they happened: a branch's
    events, then the heal that abandoned it."""
    healed = bool(record.heals)

    def label(e: Event) -> str:
        if not healed:
            return "run"
        return f"after heal {e.branch}" if e.branch else "first run"

    found = [(e, label(e)) for e in record.events] + [(e, b.label) for b in record.branches for e in b.events]
    return sorted(found, key=lambda item: (item[0].branch, item[0].kind != HEAL, item[0].step))


# ---------------------------------------------------------------------- benchmark
def _parse_number(value) -> float | None:
    try:
        return float(value) if value not in ("", None) else None
    except (TypeError, ValueError):
        return None


def read_bench_results(path: str | Path) -> list[dict]:
    """The rows of a benchmark's ``results.csv``: :data:`NUMERIC` columns, ``seed`` and
    ``steps`` as floats (None where empty or not a number), the rest as text.

    Rows without a ``data`` value say nothing and are dropped. Raises
    :class:`~modeguard.errors.DataError` where the file is missing, not UTF-8 text, not
    CSV, or has no ``data`` column.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        raw = list(reader)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path} is not a readable results table ({type(e).__name__})") from None
    if "data" not in (reader.fieldnames or []):
        raise DataError(f"{path} has no 'data' column: not the results of 'modeguard bench'")
    rows = []
    for r in raw:
        r = {k: v for k, v in r.items() if k is not None}  # cells past the header's end
        if not r.get("data"):
            continue
        for k in r:
            if k in NUMERIC or k in ("seed", "steps"):
                r[k] = _parse_number(r[k])
        rows.append(r)
    return rows


def mean_std(values: list[float | None]) -> str:
    """``"mean ± std"`` of the finite values (3 and 2 significant digits), the one value
    alone, or ``"-"`` where there is none."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "-"
    return f"{np.mean(v):.3g} ± {np.std(v):.2g}" if len(v) > 1 else f"{v[0]:.3g}"


@dataclass
class BenchData:
    """A benchmark folder's results: every row, the runs that finished (``ok``) and those
    that failed (an ``error`` text)."""

    path: Path
    rows: list[dict]

    @classmethod
    def read(cls, bench_dir: str | Path) -> "BenchData":
        """The results in ``bench_dir`` (see :func:`read_bench_results` for what it raises)."""
        bench_dir = Path(bench_dir)
        return cls(bench_dir, read_bench_results(bench_dir / BENCH_RESULTS))

    @property
    def ok(self) -> list[dict]:
        """The rows of runs that finished."""
        return [r for r in self.rows if not r.get("error")]

    @property
    def failed(self) -> list[dict]:
        """The rows of runs that raised (their ``error`` says what)."""
        return [r for r in self.rows if r.get("error")]

    def shown_columns(self) -> list[str]:
        """The :data:`NUMERIC` columns any finished run has a value in."""
        return [m for m in NUMERIC if any(r.get(m) is not None for r in self.ok)]

    def summary_rows(self) -> list[list]:
        """One row per (strategies, data), sorted by data then strategies: the two names, the
        run count and :func:`mean_std` of each shown column."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.ok:
            groups.setdefault((r.get("strategies") or "none", r["data"]), []).append(r)
        shown = self.shown_columns()
        return [[s, d, len(g), *[mean_std([r.get(m) for r in g]) for m in shown]]
                for (s, d), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]

    def by_strategy(self) -> dict[str, list[dict]]:
        """The finished rows per strategy set, in order of first appearance."""
        out: dict[str, list[dict]] = {}
        for r in self.ok:
            out.setdefault(r.get("strategies") or "none", []).append(r)
        return out
