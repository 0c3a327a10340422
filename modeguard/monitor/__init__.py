"""Online collapse detection during training, and the healing policy.

- :class:`CollapseMonitor` (``monitor.py``): usable in any PyTorch loop.
- :class:`~modeguard.monitor.callback.MonitorCallback`: the monitor inside ModeGuard's trainer.
- :mod:`modeguard.monitor.heal`: roll back to the last healthy checkpoint and escalate a ladder of strategies.
- :mod:`modeguard.monitor.doctor`: a plain-words diagnosis of a run directory.
- :mod:`modeguard.monitor.lightning`: a PyTorch Lightning callback (needs ``lightning``).
"""
from .events import EVENT_KINDS, Event, Evidence, read_events
from .monitor import CollapseMonitor, Reading

__all__ = ["CollapseMonitor", "EVENT_KINDS", "Event", "Evidence", "Reading", "read_events"]
