"""Stopping on signals: Ctrl-C (SIGINT), SIGTERM and SIGHUP (what ``docker stop``, SLURM and
Kubernetes send) ask the trainer to stop after the current step and save a checkpoint.

A second signal while the checkpoint is being written waits for the write (it is atomic
anyway); a second signal during a step stops at once, keeping the newest checkpoint.
"""
from __future__ import annotations

import signal
import threading

from ..errors import ModeGuardError

STOP_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s)
#: the ``stop_kind`` of a stop asked for by a signal
INTERRUPT = "interrupt"


class Interrupted(ModeGuardError):
    """Training was stopped by a signal; a checkpoint was saved first where there is a run."""


class StopOnSignals:
    """Context manager: while inside, the stop signals call ``trainer.request_stop``.

    Outside the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self, trainer):
        self.trainer = trainer
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        trainer = self.trainer
        name = signal.Signals(signum).name
        if trainer.saving:  # the checkpoint being written finishes; the stop is already asked for
            trainer.request_stop(f"{name} during a checkpoint write", kind=INTERRUPT)
            return
        if trainer.should_stop and trainer.stop_kind == INTERRUPT:
            raise Interrupted(f"interrupted twice at step {trainer.ctx.step} ({name}); "
                              f"the newest checkpoint is kept")
        trainer.request_stop(f"{name} at step {trainer.ctx.step}", kind=INTERRUPT)
