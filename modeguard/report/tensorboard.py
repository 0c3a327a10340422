"""Optional TensorBoard logging (``--tensorboard``): the scalars of ``metrics.jsonl``, the
monitor's readings and events, and the sample pictures, under ``RUN_DIR/tensorboard``.

Needs the ``tensorboard`` package (``pip install 'modeguard[tensorboard]'``); it is the one
import here that waits until the callback is built, so the package imports without it.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..jsonl import step_of
from ..monitor.events import Event
from ..train.callbacks import Callback
from .mpl import mpimg

__all__ = ["TensorBoardCallback", "parse_rows"]

#: the logs mirrored into TensorBoard, by their RunDir attribute
MIRRORED_LOGS = ("metrics", "monitor", "events")


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter  # optional extra
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'modeguard[tensorboard]' "
                          "(or drop --tensorboard)") from None
    return SummaryWriter


def parse_rows(chunk: bytes) -> list[dict]:
    """The JSON objects of ``chunk`` (whole lines of a JSON-lines file); lines that are not
    UTF-8, not JSON, or not an object are skipped."""
    rows = []
    for line in chunk.splitlines():
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _numbers(row: dict, skip: tuple[str, ...]):
    """(name, value) of the numeric fields of ``row`` outside ``skip``."""
    return [(k, v) for k, v in row.items() if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)]


class TensorBoardCallback(Callback):
    """Mirrors what the run writes to its directory into a TensorBoard log.

    At each step it reads the rows appended to the run's metrics, monitor and events logs
    since the last step (whole lines only) and logs them as scalars (``train/*``,
    ``monitor/*``) and text (``events``); at snapshot steps it adds the sample picture.
    Raises :class:`~modeguard.errors.ConfigError` at construction when tensorboard is not
    installed (at set-up, not hours into the run).
    """

    is_tensorboard = True

    def __init__(self):
        self._writer_cls = _summary_writer()
        self.writer = None
        self._offsets: dict[str, int] = {name: 0 for name in MIRRORED_LOGS}

    def _path(self, trainer, name: str) -> Path:
        return getattr(trainer.run, name)

    def on_fit_start(self, trainer) -> None:
        """Open the writer under the run's ``tensorboard`` folder; rows written before a
        resume were logged by the first run, so reading starts at the logs' current ends."""
        if trainer.run is None:
            return
        self.writer = self._writer_cls(log_dir=str(trainer.run.tensorboard_dir))
        for name in MIRRORED_LOGS:
            path = self._path(trainer, name)
            self._offsets[name] = path.stat().st_size if path.is_file() else 0

    def _new_rows(self, trainer, name: str) -> list[dict]:
        path = self._path(trainer, name)
        offset = self._offsets[name]
        if not path.is_file() or path.stat().st_size <= offset:
            return []
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1  # only whole lines
        self._offsets[name] = offset + end
        return parse_rows(chunk[:end])

    def _log_events(self, trainer) -> None:
        for row in self._new_rows(trainer, "events"):
            try:
                e = Event.from_dict(row)
            except (KeyError, TypeError, ValueError):
                continue
            self.writer.add_text("events", f"**{e.kind}** (step {e.step}): {e.message}", e.step)

    def on_step_end(self, trainer) -> None:
        """Log the rows appended since the last step, and the snapshot of this step if any."""
        if self.writer is None:
            return
        for row in self._new_rows(trainer, "metrics"):
            for k, v in _numbers(row, ("step",)):
                self.writer.add_scalar(f"train/{k}", v, step_of(row))
        for row in self._new_rows(trainer, "monitor"):
            for k, v in _numbers(row, ("step", "branch", "n")):
                self.writer.add_scalar(f"monitor/{k}", v, step_of(row))
        self._log_events(trainer)
        step = trainer.ctx.step
        if step % trainer.config.sample_every == 0:
            png = trainer.run.sample_path(step)
            if png.is_file():
                self.writer.add_image("samples", mpimg.imread(png)[..., :3], step, dataformats="HWC")
        self.writer.flush()

    def on_fit_end(self, trainer, result: dict) -> None:
        """Log what is left, the final evaluation's numbers (``eval/*``), and close the writer."""
        if self.writer is None:
            return
        self.on_step_end(trainer)
        for k, v in _numbers(result, ()):
            self.writer.add_scalar(f"eval/{k}", v, trainer.ctx.step)
        self.writer.close()
