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

from .events import COLLAPSE_CONFIRMED, DIVERGED, append_events
from .monitor import CollapseMonitor

METRIC_KEYS = ("loss_d", "loss_g", "d_real_acc", "d_fake_acc")


def _default_sample(module, n: int):
    if not hasattr(module, "sample"):
        raise ConfigError("CollapseMonitorCallback needs sample_fn(module, n) or a module.sample(n) method")
    return module.sample(n)


class CollapseMonitorCallback(pl.Callback):
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
        self.events = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step == 0 or step % self.every or getattr(self, "_last_step", None) == step:
            return
        self._last_step = step
        was_training = pl_module.training
        pl_module.eval()
        try:
            with torch.no_grad():
                fake = self.sample_fn(pl_module, self.n_samples)
                feats = self.feature_fn(fake)
        finally:
            pl_module.train(was_training)
        feats = feats.detach().float().cpu().numpy() if torch.is_tensor(feats) else np.asarray(feats)
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
            path = self.events_path or (Path(trainer.log_dir) / "events.jsonl" if trainer.log_dir else None)
            if path is not None:
                append_events(path, events)
        if self.on_collapse == "stop" and any(e.kind in (COLLAPSE_CONFIRMED, DIVERGED) for e in events):
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return self.monitor.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.monitor.load_state_dict(state_dict)
