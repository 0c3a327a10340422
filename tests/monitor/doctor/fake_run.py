"""Run folders written by hand (no training): the logs a run leaves, with any line in them."""
from __future__ import annotations

import json
from pathlib import Path

from modeguard.config import TrainConfig
from modeguard.monitor.events import Event, Evidence
from modeguard.rundir import RunDir

#: lines a crash or a user may leave in a JSON-lines log
GARBAGE_LINES = [b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"42", b'"text"', b"null", b'{"step": "soon"}',
                 b'{"no_step": 1}', b'{"step": 12, "modes": "many", "mode_counts": "all"}', b"{cut short"]


def config(**overrides) -> TrainConfig:
    """A resolved ring8 config with learning rates set (as a trained run's config.yaml holds)."""
    base = dict(data="ring8", strategies="none", steps=100, lr_g=2e-4, lr_d=2e-4, monitor_every=10)
    return TrainConfig(**{**base, **overrides}).resolve()


def _line(row) -> bytes:
    return row if isinstance(row, bytes) else json.dumps(row.to_dict() if isinstance(row, Event) else row).encode()


def write_log(path: Path, rows) -> None:
    """``rows`` (dicts, events, or raw bytes for a broken line), one a line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(_line(r) + b"\n" for r in rows))


def collapse_event(step: int, since: int, kind: str = "collapse_confirmed", branch: int = 0) -> Event:
    """A monitor event of ``kind`` with one piece of evidence: 1 mode of 8."""
    ev = Evidence("modes", 1.0, 8.0, 7.0, 0.875, since=since)
    return Event(kind, step, f"{kind.replace('_', ' ')}: {ev.describe()}", [ev], since=since, branch=branch)


def write_run(path, *, cfg: TrainConfig | None = None, metrics=(), monitor=(), evals=(), events=(),
              heals=None, final=None) -> RunDir:
    """A run folder at ``path`` with the given logs (an empty log is not written)."""
    run = RunDir(path)
    run.path.mkdir(parents=True, exist_ok=True)
    (cfg or config()).save(run.config)
    for target, rows in ((run.metrics, metrics), (run.monitor, monitor), (run.evals, evals), (run.events, events)):
        if rows:
            write_log(target, rows)
    if heals is not None:
        run.heals.write_bytes(heals if isinstance(heals, bytes) else json.dumps(heals).encode())
    if final is not None:
        run.eval_json.write_bytes(final if isinstance(final, bytes) else json.dumps(final).encode())
    return run


def monitor_rows(steps, modes) -> list[dict]:
    """Monitor readings at ``steps`` with ``modes`` alive (per-mode counts: 30 on each alive mode)."""
    return [{"step": s, "modes": m, "coverage": 0.5, "mode_counts": [30] * m + [0] * (8 - m)}
            for s, m in zip(steps, modes)]
