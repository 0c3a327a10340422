"""``modeguard report DIR``: one self-contained HTML file for a run or a benchmark.

For a run directory: the diagnosis (``modeguard doctor``), the final evaluation, the heals,
the curves (mode count, coverage / density, losses, D's accuracy, gradient norms) with
every monitor event and heal drawn as a vertical marker on the same step axis, the events
table and the samples over time. Abandoned branches of a healed run are drawn dashed.

For a benchmark folder (``results.csv`` from ``modeguard bench``): the table of mean ± std
per strategy set and data set, and one plot per strategy set.

Every picture is a PNG embedded as base64; the file fetches nothing.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import CheckpointError  # noqa: E402

#: marker colour and label of each event kind on the curves
EVENT_STYLE = {
    "collapse_suspected": ("#f59f00", ":", "collapse suspected"),
    "collapse_confirmed": ("#e03131", "-", "collapse confirmed"),
    "recovered": ("#2f9e44", "-", "recovered"),
    "diverged": ("#000000", "-", "diverged"),
    "d_overpowering": ("#9c36b5", "--", "D overpowering"),
    "heal": ("#1971c2", "-", "heal (rollback)"),
    "stopped": ("#495057", "-", "stopped"),
}
MAX_SAMPLE_PICTURES = 10

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px;
       color: #212529; line-height: 1.45; padding: 0 16px; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #dee2e6; padding-bottom: 4px; margin-top: 1.6em; }
.sub { color: #6c757d; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.92em; }
th, td { border: 1px solid #dee2e6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.15em; padding: 10px 14px; border-radius: 6px; background: #e7f5ff; border-left: 5px solid #1971c2; }
.verdict.bad { background: #fff5f5; border-left-color: #e03131; } .verdict.ok { background: #ebfbee; border-left-color: #2f9e44; }
img { max-width: 100%; } .grid { display: flex; flex-wrap: wrap; gap: 8px; }
.grid figure { margin: 0; width: 200px; } .grid figcaption { font-size: 0.85em; color: #495057; text-align: center; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; color: white; font-size: 0.85em; }
ul { margin-top: 4px; }
"""


def _img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{_fmt(c)}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
        else f"<td>{c if isinstance(c, _Raw) else _fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


class _Raw(str):
    """Table cell HTML that is already escaped."""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")


# ---------------------------------------------------------------------- run report
def _read_jsonl(path: Path) -> list[dict]:
    from ..jsonl import read_jsonl

    return read_jsonl(path)


def _branches(run_path: Path) -> list[tuple[str, Path]]:
    """(label, folder) of the abandoned branches, oldest first."""
    found = sorted((run_path / "abandoned").glob("heal-*"), key=lambda p: int(p.name.split("-")[1]))
    return [(f"abandoned before heal {p.name.split('-')[1]}", p) for p in found]


def _events(run_path: Path):
    from ..monitor.events import read_events

    main = read_events(run_path / "events.jsonl")
    old = [(label, e) for label, p in _branches(run_path) for e in read_events(p / "events.jsonl")]
    return main, old


def curves_figure(run_path: Path) -> bytes | None:
    """The curves of a run on one shared step axis, events as vertical markers (PNG)."""
    metrics = _read_jsonl(run_path / "metrics.jsonl")
    monitor = _read_jsonl(run_path / "monitor.jsonl")
    evals = _read_jsonl(run_path / "evals.jsonl")
    branches = [(label, _read_jsonl(p / "monitor.jsonl"), _read_jsonl(p / "metrics.jsonl"))
                for label, p in _branches(run_path)]
    if not (metrics or monitor or evals):
        return None
    panels = []
    if monitor or evals:
        panels.append("modes")
    if any("coverage" in r for r in monitor):
        panels.append("coverage")
    if metrics:
        panels.append("losses")
    if any("d_real_acc" in r for r in metrics + monitor):
        panels.append("d_acc")
    if any("grad_norm_g" in r for r in monitor):
        panels.append("grads")
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.3 * len(panels) + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]

    def series(rows, key):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        return ([p[0] for p in pts], [p[1] for p in pts]) if pts else ([], [])

    def plot(ax, rows, key, label, color, old_rows=(), **kw):
        x, y = series(rows, key)
        if x:
            ax.plot(x, y, color=color, label=label, lw=1.4, **kw)
        for _, brows, _ in old_rows:  # the caption says what dashed lines are
            bx, by = series(brows, key)
            if bx:
                ax.plot(bx, by, color=color, lw=1.0, ls="--", alpha=0.6)

    for ax, panel in zip(axes, panels):
        if panel == "modes":
            plot(ax, monitor, "modes", "modes alive (monitor)", "#1971c2", branches, drawstyle="steps-post")
            x, y = series(evals, "modes")
            if x:
                ax.plot(x, y, "o", color="#e8590c", label="modes (evaluation, >=1 HQ sample)", ms=5)
            ax.set_ylabel("modes")
        elif panel == "coverage":
            plot(ax, monitor, "coverage", "coverage", "#2f9e44", branches)
            plot(ax, monitor, "density", "density", "#862e9c", branches)
            plot(ax, monitor, "diversity", "diversity (fake / real spread)", "#868e96", branches)
            ax.set_ylabel("vs real data")
        elif panel == "losses":
            old_metrics = [(lbl, m, None) for lbl, _, m in branches]
            plot(ax, metrics, "loss_d", "loss D", "#c92a2a", old_metrics)
            plot(ax, metrics, "loss_g", "loss G", "#1864ab", old_metrics)
            ax.set_ylabel("loss")
        elif panel == "d_acc":
            rows = metrics if any("d_real_acc" in r for r in metrics) else monitor
            plot(ax, rows, "d_real_acc", "D accuracy on reals", "#2b8a3e")
            plot(ax, rows, "d_fake_acc", "D accuracy on fakes", "#e67700")
            ax.set_ylim(-0.05, 1.05)
            ax.set_ylabel("D accuracy")
        elif panel == "grads":
            plot(ax, monitor, "grad_norm_g", "|grad G|", "#1864ab", branches)
            plot(ax, monitor, "grad_norm_d", "|grad D|", "#c92a2a", branches)
            ax.set_yscale("log")
            ax.set_ylabel("gradient norm")
        ax.grid(alpha=0.3)
    # events: every panel gets the lines, the top one the legend of kinds
    main, old = _events(run_path)
    seen = set()
    for e in [*main, *(e for _, e in old)]:
        color, ls, label = EVENT_STYLE.get(e.kind, ("#adb5bd", ":", e.kind))
        for ax in axes:
            ax.axvline(e.step, color=color, ls=ls, lw=1.2, alpha=0.85,
                       label=label if (ax is axes[0] and e.kind not in seen) else None)
        seen.add(e.kind)
        if e.kind == "heal" and e.details.get("heal"):
            axes[0].annotate(f"heal {e.details['heal']}", (e.step, 1.0), xycoords=("data", "axes fraction"),
                             xytext=(3, -12), textcoords="offset points", color=color, fontsize=8)
    for ax in axes:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    return _fig_png(fig)


def _sample_grid(paths: list[Path], caption_prefix: str = "") -> str:
    if not paths:
        return ""
    if len(paths) > MAX_SAMPLE_PICTURES:  # keep the first and last, spread the rest
        idx = np.unique(np.linspace(0, len(paths) - 1, MAX_SAMPLE_PICTURES).round().astype(int))
        paths = [paths[i] for i in idx]
    figs = []
    for p in paths:
        step = p.stem.split("-")[-1].lstrip("0") or "0"
        caption = f"{caption_prefix}step {step}" if p.stem.startswith("step-") else p.stem.replace("_", " ")
        figs.append(f"<figure>{_img_tag(p.read_bytes(), caption)}<figcaption>{html.escape(caption)}</figcaption></figure>")
    return f'<div class="grid">{"".join(figs)}</div>'


def _tag(kind: str) -> str:
    color = EVENT_STYLE.get(kind, ("#adb5bd",))[0]
    return f'<span class="tag" style="background:{color}">{html.escape(kind)}</span>'


def run_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``) and return its path."""
    from ..config import TrainConfig
    from ..monitor.doctor import diagnose
    from ..train.checkpoint import RunDir

    run = RunDir(run_dir)
    if not run.is_run():
        raise CheckpointError(f"{run.path} is not a ModeGuard run (no config.yaml) nor a benchmark (no results.csv)")
    config = TrainConfig.load(run.config)
    diag = diagnose(run.path)
    final = json.loads(run.eval_json.read_text()) if run.eval_json.is_file() else {}
    heals = (json.loads((run.path / "heals.json").read_text()) if (run.path / "heals.json").is_file() else {}).get("heals", [])
    body = [f"<h1>ModeGuard run report</h1><p class=\"sub\">{html.escape(str(run.path))}</p>"]
    cls = "bad" if diag.collapsed or "diverged" in diag.verdict else ("ok" if diag.status == "finished" else "")
    body.append(f'<p class="verdict {cls}">{html.escape(diag.verdict)}</p>')

    strategies = config.to_dict()["strategies"]
    setup = [["data", config.data], ["model / loss", f"{config.model} / {config.loss}"],
             ["strategies", ", ".join(strategies) or "none (plain GAN)"],
             ["steps", f"{diag.step} of {diag.total_steps} ({diag.status})"], ["seed", config.seed],
             ["learning rates", f"G {config.lr_g:g}, D {config.lr_d:g}"],
             ["collapse monitor", f"every {config.monitor_every} steps, on collapse: {config.on_collapse}"
              if config.monitor_every else "off"]]
    original = run.path / "config.original.yaml"
    if original.is_file():
        first = TrainConfig.load(original)
        setup.insert(3, ["strategies before healing", ", ".join(first.to_dict()["strategies"]) or "none (plain GAN)"])
    body.append("<h2>Run</h2>" + _table(["", ""], setup))

    keys = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage",
            "fd_clf", "classifier_acc"]
    shown = [k for k in keys if k in final]
    if shown:
        body.append("<h2>Final evaluation</h2>" + _table(shown, [[final[k] for k in shown]]))

    diag_parts = []
    for title, items in (("Evidence", diag.evidence), ("Modes lost", diag.lost_modes), ("What to try", diag.advice)):
        if items:
            diag_parts.append(f"<h3>{title}</h3><ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in items) + "</ul>")
    body.append("<h2>Diagnosis</h2>" + "".join(diag_parts))

    if heals:
        rows = [[h["heal"], h["cause"].replace("_", " "), h["cause_step"], h["rolled_back_to"], h["change"],
                 "; ".join(h.get("notes", [])) or "-"] for h in heals]
        body.append("<h2>Healing</h2><p>Each heal rolled the run back to its last healthy checkpoint and added the "
                    "next change of the ladder.</p>"
                    + _table(["heal", "cause", "at step", "rolled back to", "what changed", "notes"], rows))

    png = curves_figure(run.path)
    if png:
        body.append("<h2>Curves</h2><p>Vertical lines: monitor events and heals. Dashed curves: branches "
                    "abandoned by a heal.</p>" + _img_tag(png, "training curves"))

    main, old = _events(run.path)
    # in the order they happened: a branch's events, then the heal that abandoned it
    timeline = sorted([(e, "run" if not heals else f"after heal {e.branch}" if e.branch else "first run")
                       for e in main] + [(e, label) for label, e in old],
                      key=lambda item: (item[0].branch, item[0].kind != "heal", item[0].step))
    rows = [[e.step, _Raw(_tag(e.kind)), label, e.message] for e, label in timeline]
    if rows:
        body.append("<h2>Events</h2><p>In the order they happened.</p>"
                    + _table(["step", "kind", "branch", "message"], rows))

    sample_html = _sample_grid(sorted(run.samples_dir.glob("step-*.png")) if run.samples_dir.is_dir() else [])
    final_png = run.path / "final_samples.png"
    if final_png.is_file():
        sample_html += "<h3>Final samples</h3>" + _sample_grid([final_png])
    for label, p in _branches(run.path):
        grid = _sample_grid(sorted((p / "samples").glob("step-*.png")))
        if grid:
            sample_html += f"<h3>{html.escape(label.capitalize())}</h3>" + grid
    if sample_html:
        body.append("<h2>Samples over time</h2>" + sample_html)

    path = Path(out) if out else run.path / "report.html"
    path.write_text(_page(f"ModeGuard report: {run.path.name}", "".join(body)))
    return path


# ---------------------------------------------------------------------- benchmark report
NUMERIC = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage", "seconds"]


def _load_results(path: Path) -> list[dict]:
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in list(r):
                if k in NUMERIC or k in ("seed", "steps"):
                    try:
                        r[k] = float(r[k]) if r[k] not in ("", None) else None
                    except ValueError:
                        r[k] = None
            rows.append(r)
    return rows


def _mean_std(values: list[float]) -> str:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "-"
    return f"{np.mean(v):.3g} ± {np.std(v):.2g}" if len(v) > 1 else f"{v[0]:.3g}"


def strategy_figure(strategy: str, rows: list[dict]) -> bytes:
    """One strategy set across data sets: modes, HQ % and rev-KL (or KL) of each seed."""
    data_sets = sorted({r["data"] for r in rows})
    metrics = [m for m in ("modes", "hq_pct", "rev_kl", "kl") if any(r.get(m) is not None for r in rows)][:3]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 2.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for i, d in enumerate(data_sets):
            vals = [r[m] for r in rows if r["data"] == d and r.get(m) is not None and math.isfinite(r[m])]
            if vals:
                jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else [0.0]
                ax.scatter(i + np.asarray(jitter), vals, s=18, color="#1971c2", zorder=3)
                ax.hlines(np.mean(vals), i - 0.25, i + 0.25, color="#e03131", lw=2, zorder=4)
        ax.set_xticks(range(len(data_sets)))
        ax.set_xticklabels(data_sets, fontsize=8)
        ax.set_title({"hq_pct": "HQ %", "rev_kl": "rev-KL", "kl": "KL"}.get(m, m), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _fig_png(fig)


def bench_report(bench_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``BENCH_DIR/report.html`` from ``results.csv`` and return its path."""
    bench = Path(bench_dir)
    rows = _load_results(bench / "results.csv")
    ok = [r for r in rows if not r.get("error")]
    failed = [r for r in rows if r.get("error")]
    groups: dict[tuple, list[dict]] = {}
    for r in ok:
        groups.setdefault((r.get("strategies") or "none", r["data"]), []).append(r)
    shown = [m for m in NUMERIC if any(r.get(m) is not None for r in ok)]
    table_rows = [[s, d, len(g), *[_mean_std([r.get(m) for r in g]) for m in shown]]
                  for (s, d), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    body = [f"<h1>ModeGuard benchmark report</h1><p class=\"sub\">{html.escape(str(bench))}: {len(rows)} runs"
            f"{f', {len(failed)} failed' if failed else ''}</p>",
            "<h2>Results (mean ± std over seeds)</h2>",
            _table(["strategies", "data", "runs", *shown], table_rows)]
    if failed:
        body.append("<h2>Failed runs</h2>" + _table(["strategies", "data", "seed", "error"],
                                                    [[r.get("strategies"), r.get("data"), r.get("seed"), r.get("error")]
                                                     for r in failed]))
    body.append("<h2>Per strategy set</h2><p>Dots: one seed each; red bar: the mean.</p>")
    by_strategy: dict[str, list[dict]] = {}
    for r in ok:
        by_strategy.setdefault(r.get("strategies") or "none", []).append(r)
    for s, srows in by_strategy.items():
        body.append(f"<h3>{html.escape(s)}</h3>" + _img_tag(strategy_figure(s, srows), f"results of {s}"))
    path = Path(out) if out else bench / "report.html"
    path.write_text(_page(f"ModeGuard benchmark: {bench.name}", "".join(body)))
    return path


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """A run's or a benchmark's report, whichever ``directory`` holds."""
    d = Path(directory)
    if not d.is_dir():
        raise CheckpointError(f"directory not found: {d}")
    if (d / "config.yaml").is_file():
        return run_report(d, out)
    if (d / "results.csv").is_file():
        return bench_report(d, out)
    raise CheckpointError(f"{d} is neither a ModeGuard run (config.yaml) nor a benchmark folder (results.csv)")
