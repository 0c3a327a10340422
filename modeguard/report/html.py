"""``modeguard report DIR``: one self-contained HTML file for a run or a benchmark.

For a run directory: the diagnosis (``modeguard doctor``), the final evaluation, the heals,
the curves (mode count, coverage / density, losses, D's accuracy, gradient norms) with
every monitor event and heal drawn as a vertical marker on the same step axis, the events
table and the samples over time. Abandoned branches of a healed run are drawn dashed.

For a benchmark folder (``results.csv`` from ``modeguard bench``): the table of mean ± std
per strategy set and data set, and one plot per strategy set.

Every picture is a PNG embedded as base64; the file fetches nothing. This module only
assembles the page: :mod:`.data` reads what it shows, :mod:`.figures` draws it,
:mod:`.markup` holds the HTML pieces.
"""
from __future__ import annotations

import html
from pathlib import Path

from ..errors import CheckpointError
from ..rundir import RunDir
from .data import BENCH_RESULTS, BenchData, RunReportData, event_rows, final_row, heal_rows, read_run_report, setup_rows
from .figures import curves_figure, event_style, strategy_figure
from .markup import Raw, bullet_list, img_tag, page, sample_grid, table, tag

__all__ = ["bench_report", "bench_report_html", "run_report", "run_report_html", "write_report"]


# ---------------------------------------------------------------------- run report
def _verdict_section(data: RunReportData) -> str:
    diag = data.diagnosis
    cls = "bad" if diag.collapsed or "diverged" in diag.verdict else ("ok" if diag.status == "finished" else "")
    return f'<p class="verdict {cls}">{html.escape(diag.verdict)}</p>'


def _final_section(data: RunReportData) -> str:
    keys, values = final_row(data.record.final)
    return "<h2>Final evaluation</h2>" + table(keys, [values]) if keys else ""


def _diagnosis_section(data: RunReportData) -> str:
    diag = data.diagnosis
    parts = [f"<h3>{title}</h3>" + bullet_list(items)
             for title, items in (("Evidence", diag.evidence), ("Modes lost", diag.lost_modes),
                                  ("What to try", diag.advice)) if items]
    return "<h2>Diagnosis</h2>" + "".join(parts)


def _healing_section(data: RunReportData) -> str:
    if not data.record.heals:
        return ""
    return ("<h2>Healing</h2><p>Each heal rolled the run back to its last healthy checkpoint and added the "
            "next change of the ladder.</p>"
            + table(["heal", "cause", "at step", "rolled back to", "what changed", "notes"],
                    heal_rows(data.record.heals)))


def _curves_section(data: RunReportData) -> str:
    png = curves_figure(data.record)
    if not png:
        return ""
    return ("<h2>Curves</h2><p>Vertical lines: monitor events and heals. Dashed curves: branches "
            "abandoned by a heal.</p>" + img_tag(png, "training curves"))


def _events_section(data: RunReportData) -> str:
    rows = [[e.step, Raw(tag(e.kind, event_style(e.kind)[0])), label, e.message]
            for e, label in event_rows(data.record)]
    if not rows:
        return ""
    return "<h2>Events</h2><p>In the order they happened.</p>" + table(["step", "kind", "branch", "message"], rows)


def _samples_section(data: RunReportData) -> str:
    parts = sample_grid(data.snapshots)
    if data.final_samples is not None:
        parts += "<h3>Final samples</h3>" + sample_grid([data.final_samples])
    for label, paths in data.branch_snapshots:
        grid = sample_grid(paths)
        if grid:
            parts += f"<h3>{html.escape(label.capitalize())}</h3>" + grid
    return "<h2>Samples over time</h2>" + parts if parts else ""


def run_report_html(data: RunReportData) -> str:
    """The run report of ``data`` as one HTML document."""
    path = data.record.run.path
    body = [f"<h1>ModeGuard run report</h1><p class=\"sub\">{html.escape(str(path))}</p>", _verdict_section(data),
            "<h2>Run</h2>" + table(["", ""], setup_rows(data)), _final_section(data), _diagnosis_section(data),
            _healing_section(data), _curves_section(data), _events_section(data), _samples_section(data)]
    return page(f"ModeGuard report: {path.name}", "".join(body))


def run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the run in ``run_dir`` to ``RUN_DIR/report.html`` (or ``out``)
    and return its path.

    Raises :class:`~modeguard.errors.CheckpointError` where ``run_dir`` is no run, and what
    :func:`~modeguard.monitor.doctor.diagnose` raises for an unreadable config or data.
    """
    data = read_run_report(run_dir)
    path = Path(out) if out else data.record.run.report
    path.write_text(run_report_html(data))
    return path


# ---------------------------------------------------------------------- benchmark report
def bench_report_html(bench: BenchData) -> str:
    """The benchmark report of ``bench`` as one HTML document."""
    failed = bench.failed
    body = [f"<h1>ModeGuard benchmark report</h1><p class=\"sub\">{html.escape(str(bench.path))}: "
            f"{len(bench.rows)} runs{f', {len(failed)} failed' if failed else ''}</p>",
            "<h2>Results (mean ± std over seeds)</h2>",
            table(["strategies", "data", "runs", *bench.shown_columns()], bench.summary_rows())]
    if failed:
        body.append("<h2>Failed runs</h2>" + table(["strategies", "data", "seed", "error"],
                                                   [[r.get("strategies"), r.get("data"), r.get("seed"), r.get("error")]
                                                    for r in failed]))
    body.append("<h2>Per strategy set</h2><p>Dots: one seed each; red bar: the mean.</p>")
    for s, srows in bench.by_strategy().items():
        body.append(f"<h3>{html.escape(s)}</h3>" + img_tag(strategy_figure(s, srows), f"results of {s}"))
    return page(f"ModeGuard benchmark: {bench.path.name}", "".join(body))


def bench_report(bench_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``BENCH_DIR/report.html`` (or ``out``) from ``results.csv`` and return its path.

    Raises :class:`~modeguard.errors.DataError` where ``results.csv`` is missing or unreadable.
    """
    bench = BenchData.read(bench_dir)
    path = Path(out) if out else RunDir(bench.path).report
    path.write_text(bench_report_html(bench))
    return path


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write a run's or a benchmark's report, whichever ``directory`` holds, and return its path.

    Raises :class:`~modeguard.errors.CheckpointError` where ``directory`` is missing or holds
    neither; what :func:`run_report` / :func:`bench_report` raise otherwise.
    """
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"directory not found: {d}")
    if RunDir(d).is_run():
        return run_report(d, out)
    if (d / BENCH_RESULTS).is_file():
        return bench_report(d, out)
    raise CheckpointError(f"{d} is neither a ModeGuard run (config.yaml) nor a benchmark folder (results.csv)")
