"""The collapse monitor as a PyTorch Lightning callback (``pip install 'modeguard[lightning]'``).

::

    from modeguard.monitor.lightning import CollapseMonitorCallback

    cb = CollapseMonitorCallback(reference=real_features, sample_fn=lambda module, n: module.generator(
        torch.randn(n, 16, device=module.device)), every_n_steps=200, centers=centers, std=0.01)
    trainer = lightning.Trainer(callbacks=[cb])

Every ``every_n_steps`` optimizer steps it draws ``n_samples`` fakes with ``sample_fn(module, n)``
(default: ``module.sample(n)``), maps them with ``feature_fn`` (default: flatten), and feeds
them to a :class:`~modeguard.monitor.CollapseMonitor` with the losses and D accuracies the
module logged (``callback_metrics`` keys ``loss_d``, ``loss_g``, ``d_real_acc``,
``d_fake_acc``, if present). Readings are logged with ``pl_module.log`` under ``monitor/``;
events are printed, kept in ``self.events``, and appended to ``events.jsonl`` in the
trainer's log directory. ``on_collapse="stop"`` sets ``trainer.should_stop`` on a
confirmed collapse or a divergence.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import ConfigError

try:
    import lightning.pytorch as pl
except ImportError:  # the extra is not installed: say so where it is imported
    raise ImportError("modeguard.monitor.lightning needs PyTorch Lightning: pip install 'modeguard[lightning]'") from None

from ..rundir import RunDir
from .events import COLLAPSE_CONFIRMED, DIVERGED, Event, append_events
from .monitor import CollapseMonitor

__all__ = ["CollapseMonitorCallback", "METRIC_KEYS"]

#: the logged metrics (``trainer.callback_metrics``) the monitor is fed, where present
METRIC_KEYS = ("loss_d", "loss_g", "d_real_acc", "d_fake_acc")


def _default_sample(module, n: int):
    if not hasattr(module, "sample"):
        raise ConfigError("CollapseMonitorCallback needs sample_fn(module, n) or a module.sample(n) method")
    return module.sample(n)


class CollapseMonitorCallback(pl.Callback):
    """The collapse monitor inside a Lightning ``Trainer`` (see the module docstring).

    ``reference``: real features (N, F) the monitor measures against; ``sample_fn(module,
    n)`` returns n fakes (a tensor or array, (n, ...)); ``feature_fn`` maps them to (n, F)
    (default: flatten); every ``every_n_steps`` optimizer steps ``n_samples`` are drawn.
    ``on_collapse`` is ``"warn"`` or ``"stop"``; ``events_path`` defaults to the trainer's
    log directory's events log; ``monitor_options`` go to :class:`CollapseMonitor`.
    Raises :class:`~modeguard.errors.ConfigError` for a bad ``on_collapse`` or ``every_n_steps``.
    """

    def __init__(self, reference, sample_fn: Callable | None = None, feature_fn: Callable | None = None,
                 every_n_steps: int = 200, n_samples: int = 1000, on_collapse: str = "warn",
                 events_path: str | Path | None = None, **monitor_options):
        if on_collapse not in ("warn", "stop"):
            raise ConfigError(f"on_collapse must be warn or stop in Lightning, got {on_collapse!r}")
        if every_n_steps < 1:
            raise ConfigError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.monitor = CollapseMonitor(reference, **monitor_options)
        self.sample_fn = sample_fn or _default_sample
        self.feature_fn = feature_fn or (lambda x: x.reshape(len(x), -1))
        self.every, self.n_samples, self.on_collapse = every_n_steps, n_samples, on_collapse
        self.events_path = Path(events_path) if events_path else None
        self.events: list[Event] = []
        self._last_step: int | None = None  # several batches share a step under gradient accumulation

    def _features(self, pl_module):
        """``n_samples`` fakes of the module in eval mode, as features (n, F)."""
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                fake = self.sample_fn(pl_module, self.n_samples)
                feats = self.feature_fn(fake)
        finally:
            pl_module.train(was_training)
        return feats.detach().float().cpu().numpy() if torch.is_tensor(feats) else np.asarray(feats)

    def _events_path(self, trainer) -> Path | None:
        if self.events_path is not None:
            return self.events_path
        return RunDir(trainer.log_dir).events if trainer.log_dir else None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Every ``every_n_steps`` steps: measure, log the figures under ``monitor/``, print
        and record the events, and set ``trainer.should_stop`` on a collapse with ``"stop"``."""
        step = trainer.global_step
        if step == 0 or step % self.every or self._last_step == step:
            return
        self._last_step = step
        feats = self._features(pl_module)
        logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k in METRIC_KEYS}
        events = self.monitor.update(step, feats, **logged)
        figures = {f"monitor/{k}": float(v) for k, v in self.monitor.last.figures.items()
                   if isinstance(v, (int, float)) and np.isfinite(v)}
        if figures and trainer.logger is not None:
            trainer.logger.log_metrics(figures, step=step)
        if events:
            self.events.extend(events)
            for e in events:
                print(f"modeguard monitor: {e}")
            path = self._events_path(trainer)
            if path is not None:
                append_events(path, events)
        if self.on_collapse == "stop" and any(e.kind in (COLLAPSE_CONFIRMED, DIVERGED) for e in events):
            trainer.should_stop = True

    def state_dict(self) -> dict:
        """The monitor's state (Lightning saves it in its checkpoints)."""
        return self.monitor.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the monitor's state from a Lightning checkpoint."""
        self.monitor.load_state_dict(state_dict)
