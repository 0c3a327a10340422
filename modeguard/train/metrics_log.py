"""The rows of ``metrics.jsonl``: losses, D's accuracy, learning rates, strategy stats, speed."""
from __future__ import annotations

import time

from ..jsonl import append_jsonl
from .context import TrainContext
from .step import Step, d_accuracy


class MetricsLog:
    """Builds one row per log step and appends it to ``path`` (None: rows are only returned).

    ``steps_per_s`` counts the steps since the previous row (or since :meth:`restart`).
    """

    def __init__(self, path=None):
        self.path = path
        self.t0 = time.perf_counter()
        self._last = (0, self.t0)

    def restart(self, step: int) -> None:
        """Count speed from ``step`` now (a resumed run's rate counts its own steps)."""
        self._last = (step, time.perf_counter())

    def row(self, ctx: TrainContext, step: Step) -> dict:
        """The row for ``ctx``'s current step (reads the losses back from the device)."""
        now = time.perf_counter()
        last_step, last_t = self._last
        self._last = (ctx.step, now)
        loss_d, loss_g = step.losses
        row = {"step": ctx.step, "loss_d": float(loss_d), "loss_g": float(loss_g)}
        acc = d_accuracy(ctx)
        if acc is not None:
            row["d_real_acc"], row["d_fake_acc"] = float(acc[0]), float(acc[1])
        row["lr_g"] = ctx.opt_g.param_groups[0]["lr"]
        row["lr_d"] = ctx.opt_d.param_groups[0]["lr"]
        for k, v in ctx.stats.items():
            row[k] = float(v)
        row["steps_per_s"] = (ctx.step - last_step) / max(now - last_t, 1e-9)
        row["time_s"] = now - self.t0
        return row

    def log(self, ctx: TrainContext, step: Step) -> dict:
        """Build the row, append it to the file (if any) and return it."""
        row = self.row(ctx, step)
        if self.path is not None:
            append_jsonl(self.path, row)
        return row
