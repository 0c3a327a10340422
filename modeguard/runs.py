"""Library entry points behind the CLI: start, resume, sample and evaluate runs."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .errors import CheckpointError, ConfigError
from .train import RunDir, Trainer


def default_out(config: TrainConfig) -> Path:
    tag = Path(config.data).stem if "/" in config.data or "." in config.data else config.data.replace(":", "-")
    return Path("runs") / f"{tag}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


def start_run(config: TrainConfig, out: str | Path | None = None, overwrite: bool = False,
              callbacks=()) -> Trainer:
    """A trainer for a new run in ``out`` (refusing a folder that holds something else)."""
    out = Path(out) if out else default_out(config)
    run = RunDir(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder")
    if run.holds_anything():
        if not overwrite:
            what = "another run" if run.is_run() else "other files"
            raise ConfigError(f"{out} already holds {what}; use --resume {out} to continue it "
                              f"or --overwrite to replace it")
        shutil.rmtree(out)
    return Trainer(config, out, callbacks=callbacks)


def sample_run(run_dir: str | Path, n: int, seed: int = 0, checkpoint: str | None = None) -> np.ndarray:
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    trainer = Trainer.open(run_dir, checkpoint=checkpoint, progress=False)
    return trainer.sample(n, seed)


def eval_run(run_dir: str | Path, n: int | None = None, checkpoint: str | None = None) -> dict:
    overrides = {"progress": False}
    if n is not None:
        if n < 10:
            raise ConfigError(f"-n must be >= 10, got {n}")
        overrides["eval_samples"] = n
    trainer = Trainer.open(run_dir, checkpoint=checkpoint, **overrides)
    result = trainer.evaluate()
    result["step"] = trainer.ctx.step
    return result


def save_array(path: str | Path, arr: np.ndarray) -> Path:
    path = Path(path)
    if path.suffix != ".npy":
        raise ConfigError(f"output must be a .npy file, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    from .train.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, lambda f: np.save(f, arr))
    return path


def save_sample_grid(npy_path: str | Path, arr: np.ndarray) -> Path | None:
    """For image samples (n, C, H, W) in [0, 1], a PNG grid beside the .npy; None for point data."""
    if arr.ndim != 4:
        return None
    from .report.images import save_grid_png

    return save_grid_png(arr[:100], Path(npy_path).with_suffix(".png"))


__all__ = ["CheckpointError", "default_out", "eval_run", "sample_run", "save_array", "save_sample_grid",
           "start_run"]
