"""Optional TensorBoard logging (``--tensorboard``): the scalars of ``metrics.jsonl``, the
monitor's readings and events, and the sample pictures, under ``RUN_DIR/tensorboard``.

Needs the ``tensorboard`` package (``pip install 'modeguard[tensorboard]'``).
"""
from __future__ import annotations

import json

from ..errors import ConfigError
from ..train.callbacks import Callback


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("--tensorboard needs the tensorboard package: pip install 'modeguard[tensorboard]' "
                          "(or drop --tensorboard)") from None
    return SummaryWriter


class TensorBoardCallback(Callback):
    """Mirrors what the run writes to its directory into a TensorBoard log."""

    is_tensorboard = True

    def __init__(self):
        self._writer_cls = _summary_writer()  # fail at set-up, not hours into the run
        self.writer = None
        self._metrics_offset = 0
        self._monitor_offset = 0
        self._events_offset = 0

    def on_fit_start(self, trainer) -> None:
        if trainer.run is None:
            return
        self.writer = self._writer_cls(log_dir=str(trainer.run.path / "tensorboard"))
        # rows written before a resume were logged by the first run
        for name in ("metrics", "monitor", "events"):
            path = self._path(trainer, name)
            setattr(self, f"_{name}_offset", path.stat().st_size if path.is_file() else 0)

    def _path(self, trainer, name: str):
        return trainer.run.path / f"{name}.jsonl"

    def _new_rows(self, trainer, name: str) -> list[dict]:
        path = self._path(trainer, name)
        offset = getattr(self, f"_{name}_offset")
        if not path.is_file() or path.stat().st_size <= offset:
            return []
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1  # only whole lines
        setattr(self, f"_{name}_offset", offset + end)
        rows = []
        for line in chunk[:end].decode().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return rows

    def on_step_end(self, trainer) -> None:
        if self.writer is None:
            return
        for row in self._new_rows(trainer, "metrics"):
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.writer.add_scalar(f"train/{k}", v, row["step"])
        for row in self._new_rows(trainer, "monitor"):
            for k, v in row.items():
                if k not in ("step", "branch", "n") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.writer.add_scalar(f"monitor/{k}", v, row["step"])
        for row in self._new_rows(trainer, "events"):
            self.writer.add_text("events", f"**{row['kind']}** (step {row['step']}): {row['message']}", row["step"])
        step = trainer.ctx.step
        if step % trainer.config.sample_every == 0:
            png = trainer.run.samples_dir / f"step-{step:08d}.png"
            if png.is_file():
                import matplotlib.image as mpimg

                self.writer.add_image("samples", mpimg.imread(png)[..., :3], step, dataformats="HWC")
        self.writer.flush()

    def on_fit_end(self, trainer, result: dict) -> None:
        if self.writer is None:
            return
        self.on_step_end(trainer)
        for k, v in result.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self.writer.add_scalar(f"eval/{k}", v, trainer.ctx.step)
        self.writer.close()
