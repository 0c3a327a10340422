"""The reports' figures, as PNG bytes: a run's curves on one step axis with its events as
vertical markers, and one benchmark strategy set across data sets."""
from __future__ import annotations

import math

import numpy as np

from ..monitor.doctor import RunRecord
from ..monitor.events import HEAL, Event
from .mpl import figure_png, plt

__all__ = ["EVENT_STYLE", "curve_panels", "curves_figure", "series", "strategy_figure"]

#: marker colour, line style and label of each event kind on the curves
EVENT_STYLE = {
    "collapse_suspected": ("#f59f00", ":", "collapse suspected"),
    "collapse_confirmed": ("#e03131", "-", "collapse confirmed"),
    "recovered": ("#2f9e44", "-", "recovered"),
    "diverged": ("#000000", "-", "diverged"),
    "d_overpowering": ("#9c36b5", "--", "D overpowering"),
    "heal": ("#1971c2", "-", "heal (rollback)"),
    "stopped": ("#495057", "-", "stopped"),
}
#: the style of an event kind :data:`EVENT_STYLE` does not know
OTHER_EVENT = ("#adb5bd", ":")


def event_style(kind: str) -> tuple[str, str, str]:
    """(colour, line style, label) of an event ``kind``."""
    return EVENT_STYLE.get(kind, (*OTHER_EVENT, kind))


def series(rows: list[dict], key: str) -> tuple[list, list]:
    """(steps, values) of the rows whose ``key`` holds a number."""
    pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float)) and not isinstance(r[key], bool)]
    return [p[0] for p in pts], [p[1] for p in pts]


def curve_panels(record: RunRecord) -> list[str]:
    """The panels a run's curves have, top to bottom, for the figures it logged: ``modes``,
    ``coverage``, ``losses``, ``d_acc``, ``grads``."""
    monitor, metrics = record.monitor, record.metrics
    wanted = [("modes", bool(monitor or record.evals)), ("coverage", any("coverage" in r for r in monitor)),
              ("losses", bool(metrics)), ("d_acc", any("d_real_acc" in r for r in metrics + monitor)),
              ("grads", any("grad_norm_g" in r for r in monitor))]
    return [name for name, present in wanted if present]


def _plot(ax, rows, key, label, color, old_rows=(), **kw) -> None:
    """One curve, and the same figure of each abandoned branch dashed (the caption says so)."""
    x, y = series(rows, key)
    if x:
        ax.plot(x, y, color=color, label=label, lw=1.4, **kw)
    for brows in old_rows:
        bx, by = series(brows, key)
        if bx:
            ax.plot(bx, by, color=color, lw=1.0, ls="--", alpha=0.6)


def _draw_panel(ax, panel: str, record: RunRecord) -> None:
    monitor, metrics = record.monitor, record.metrics
    old_monitor = [b.monitor for b in record.branches]
    if panel == "modes":
        _plot(ax, monitor, "modes", "modes alive (monitor)", "#1971c2", old_monitor, drawstyle="steps-post")
        x, y = series(record.evals, "modes")
        if x:
            ax.plot(x, y, "o", color="#e8590c", label="modes (evaluation, >=1 HQ sample)", ms=5)
        ax.set_ylabel("modes")
    elif panel == "coverage":
        _plot(ax, monitor, "coverage", "coverage", "#2f9e44", old_monitor)
        _plot(ax, monitor, "density", "density", "#862e9c", old_monitor)
        _plot(ax, monitor, "diversity", "diversity (fake / real spread)", "#868e96", old_monitor)
        ax.set_ylabel("vs real data")
    elif panel == "losses":
        old_metrics = [b.metrics for b in record.branches]
        _plot(ax, metrics, "loss_d", "loss D", "#c92a2a", old_metrics)
        _plot(ax, metrics, "loss_g", "loss G", "#1864ab", old_metrics)
        ax.set_ylabel("loss")
    elif panel == "d_acc":
        rows = metrics if any("d_real_acc" in r for r in metrics) else monitor
        _plot(ax, rows, "d_real_acc", "D accuracy on reals", "#2b8a3e")
        _plot(ax, rows, "d_fake_acc", "D accuracy on fakes", "#e67700")
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("D accuracy")
    elif panel == "grads":
        _plot(ax, monitor, "grad_norm_g", "|grad G|", "#1864ab", old_monitor)
        _plot(ax, monitor, "grad_norm_d", "|grad D|", "#c92a2a", old_monitor)
        ax.set_yscale("log")
        ax.set_ylabel("gradient norm")
    ax.grid(alpha=0.3)


def _draw_events(axes, events: list[Event]) -> None:
    """Every event as a vertical line on every panel; the top panel's legend names each kind once."""
    seen = set()
    for e in events:
        color, ls, label = event_style(e.kind)
        for ax in axes:
            ax.axvline(e.step, color=color, ls=ls, lw=1.2, alpha=0.85,
                       label=label if (ax is axes[0] and e.kind not in seen) else None)
        seen.add(e.kind)
        if e.kind == HEAL and e.details.get("heal"):
            axes[0].annotate(f"heal {e.details['heal']}", (e.step, 1.0), xycoords=("data", "axes fraction"),
                             xytext=(3, -12), textcoords="offset points", color=color, fontsize=8)


def curves_figure(record: RunRecord) -> bytes | None:
    """The curves of a run (PNG): mode count, coverage / density, losses, D's accuracy and
    gradient norms as far as logged, on one shared step axis, every event and heal as a
    vertical marker, abandoned branches dashed. None where the run logged nothing yet."""
    panels = curve_panels(record)
    if not (record.metrics or record.monitor or record.evals):
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.3 * len(panels) + 0.6), sharex=True, squeeze=False)
    axes = axes[:, 0]
    for ax, panel in zip(axes, panels):
        _draw_panel(ax, panel, record)
    _draw_events(axes, [*record.events, *record.old_events])
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    return figure_png(fig)


STRATEGY_METRICS = ("modes", "hq_pct", "rev_kl", "kl")
METRIC_TITLES = {"hq_pct": "HQ %", "rev_kl": "rev-KL", "kl": "KL"}


def strategy_figure(strategy: str, rows: list[dict]) -> bytes:
    """One strategy set across data sets (PNG): modes, HQ % and rev-KL (or KL) of each seed
    as dots, the mean as a red bar. ``rows`` are that set's rows of ``results.csv``."""
    data_sets = sorted({r["data"] for r in rows})
    metrics = [m for m in STRATEGY_METRICS if any(r.get(m) is not None for r in rows)][:3]
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(3.6 * max(len(metrics), 1), 2.8), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for i, d in enumerate(data_sets):
            vals = [r[m] for r in rows if r["data"] == d and r.get(m) is not None and math.isfinite(r[m])]
            if vals:
                jitter = np.linspace(-0.12, 0.12, len(vals)) if len(vals) > 1 else [0.0]
                ax.scatter(i + np.asarray(jitter), vals, s=18, color="#1971c2", zorder=3)
                ax.hlines(np.mean(vals), i - 0.25, i + 0.25, color="#e03131", lw=2, zorder=4)
        ax.set_xticks(range(len(data_sets)))
        ax.set_xticklabels(data_sets, fontsize=8)
        ax.set_title(METRIC_TITLES.get(m, m), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_png(fig)
