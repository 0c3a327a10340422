"""One trial of a search: train a config, report its score as it goes, stop at a confirmed collapse.

Needs no Ray: :func:`run_trial` takes the ``report`` function (``ray.tune.report`` inside a
search, a list's ``append`` in a test). Every report carries the steps run and the
process's CPU seconds so far, so a trial that the scheduler stops keeps its cost on record.
"""
from __future__ import annotations

import math
import time

import torch

from ..config import TrainConfig
from ..monitor import callback as monitor_callback
from ..train import Callback, Trainer
from .space import score

#: what the monitor raised on a confirmed collapse with ``on_collapse: stop`` before the
#: trainer learned to stop by itself (``trainer.should_stop`` / ``stop_reason``)
_COLLAPSE_RAISED = getattr(monitor_callback, "CollapseStopped", None)
_NOTHING_RAISED = type("_NeverRaised", (Exception,), {})


def reading(trainer: Trainer, cpu_start: float) -> dict:
    """The trial's metrics now: step, CPU seconds, modes, strict modes, HQ %, rev-KL and score.
    An infinite rev-KL is left out (Tune's loggers reject it); the score counts it as infinite."""
    metrics = trainer.evaluate(prdc=False)
    row = {k: metrics[k] for k in ("modes", "modes_strict", "hq_pct", "rev_kl")
           if k in metrics and math.isfinite(metrics[k])}
    return {"step": trainer.ctx.step, "cpu_s": time.process_time() - cpu_start, **row, "score": score(row)}


class ReportEvery(Callback):
    """Reports :func:`reading` every ``every`` steps (the last step is reported by :func:`run_trial`)."""

    def __init__(self, every: int, report, cpu_start: float):
        self.every, self.report, self.cpu_start = every, report, cpu_start

    def on_step_end(self, trainer) -> None:
        step = trainer.ctx.step
        if step % self.every == 0 and step < trainer.ctx.total_steps and not getattr(trainer, "should_stop", False):
            self.report({**reading(trainer, self.cpu_start), "collapsed": False, "last": False})


def stopped_for_collapse(trainer: Trainer, result: dict) -> bool:
    """Whether ``fit`` returned because the collapse monitor stopped the run."""
    if "stopped" not in result:
        return False
    why = f"{result.get('stop_kind') or ''} {result.get('stopped') or ''} {getattr(trainer, 'stop_reason', '') or ''}"
    return "collapse" in why


def run_trial(config: TrainConfig, report_every: int, report) -> dict:
    """Train ``config`` in this process, calling ``report(metrics)`` every ``report_every``
    steps and once at the end, and return the last metrics.

    Metrics: step, cpu_s, modes, modes_strict, hq_pct, rev_kl, score, collapsed (the monitor
    confirmed a collapse and the trial stopped there), last (the trial's last report).
    """
    torch.set_num_threads(1)
    cpu_start = time.process_time()
    trainer = Trainer(config, None, callbacks=[ReportEvery(report_every, report, cpu_start)])
    try:
        result = trainer.fit()
        collapsed = stopped_for_collapse(trainer, result)
    except (_COLLAPSE_RAISED or _NOTHING_RAISED):
        collapsed = True
    final = {**reading(trainer, cpu_start), "collapsed": collapsed, "last": True}
    report(final)
    return final
