"""Library entry points behind the CLI: start, resume, sample and evaluate runs.

A process that writes a run holds the run's lock (:class:`~modeguard.lock.RunLock`) for as
long as it writes: :func:`new_run` and :func:`resumed_run` hold it for their ``with``
block; :func:`start_run` and :func:`resume_run` hold it while they set up (``Trainer.fit``
takes it again while it trains).
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .atomic import atomic_write_bytes, clean_orphan_temp_files
from .config import TrainConfig, history_entry, resume_changes
from .distributed import is_main_process
from .errors import CheckpointError, ConfigError, OutputPathError, write_failure
from .lock import RunLock
from .monitor.callback import monitor_every_for
from .report.images import save_grid_png
from .refs import canonical_ref, is_ref
from .resources import check_fits_in_memory
from .rundir import RunDir
from .train import Trainer


def default_out(config: TrainConfig) -> Path:
    """``runs/<data>-seed<S>-<time>``: where a run goes when ``--out`` is not given."""
    data = str(config.data)
    tag = Path(data).stem if "/" in data or "." in data else data.replace(":", "-")
    return Path("runs") / f"{tag}-seed{config.seed}-{time.strftime('%Y%m%d-%H%M%S')}"


# ---------------------------------------------------------------- new runs
def train_config(config_file: str | Path | None, overrides: dict) -> TrainConfig:
    """The config of a new run: ``config_file`` (YAML; None for the defaults) with
    ``overrides`` on top. Asking for ``on_collapse`` without ``monitor_every`` turns the
    monitor on at the data's cadence. Raises ``ConfigError`` for a bad file or key."""
    config = TrainConfig.load(config_file) if config_file else TrainConfig()
    for k, v in overrides.items():
        if not hasattr(config, k):
            raise ConfigError(f"unknown config key '{k}'")
        setattr(config, k, v)
    if "on_collapse" in overrides and "monitor_every" not in overrides:
        config.monitor_every = monitor_every_for(config)
    # config.yaml must name the user's code and files so that any folder can reopen the run
    if is_ref(config.model):
        config.model = canonical_ref(config.model)
    if is_ref(config.data):
        config.data = canonical_ref(config.data)
    elif isinstance(config.data, str) and Path(config.data).suffix in (".npy", ".npz", ".csv") \
            and Path(config.data).is_file():
        config.data = str(Path(config.data).resolve())
    return config


@contextmanager
def new_run(config: TrainConfig, out: str | Path | None = None, overwrite: bool = False,
            callbacks=()) -> Iterator[Trainer]:
    """A trainer for a new run in ``out``, with the run's lock held for the ``with`` block.

    Checks come before anything is changed on disk: the config (the trainer's constructor),
    the memory the run needs, a folder that holds something else (``ConfigError`` unless
    ``overwrite``; with it, the old content is removed only once the new run is built).
    Where the block (or the set-up) fails before the first training step, the folder is
    removed again (emptied where it existed before), so a rerun is not blocked.

    Raises ``ConfigError`` / ``DataError`` / ``ResourceError`` for bad settings,
    ``RunLockedError`` where another process writes ``out``, ``RunWriteError`` /
    ``OutputPathError`` where ``out`` cannot be written.
    """
    out = Path(out) if out else default_out(config)
    if not is_main_process():  # under torchrun, rank 0 checks and writes the folder
        yield Trainer(config, out, callbacks=callbacks)
        return
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"--out {out} is a file, not a folder")
    run = RunDir(out)
    existed = out.is_dir()
    _refuse_taken(run, overwrite)  # before the lock, which would touch the folder
    trainer = None
    with RunLock(run.lock):
        _refuse_taken(run, overwrite)  # again: another process may have started there meanwhile
        try:
            trainer = Trainer(config, out, callbacks=callbacks)
            check_fits_in_memory(trainer.ctx)
            _empty_folder(run)
            yield trainer
        except BaseException:
            if trainer is None or (trainer.ctx.step == 0 and not run.checkpoints()):
                _remove_new_run(run, existed)
            raise


def start_run(config: TrainConfig, out: str | Path | None = None, overwrite: bool = False,
              callbacks=()) -> Trainer:
    """A trainer for a new run in ``out`` (see :func:`new_run`; the lock is released on return
    and ``Trainer.fit`` takes it again)."""
    with new_run(config, out, overwrite, callbacks) as trainer:
        return trainer


def _refuse_taken(run: RunDir, overwrite: bool) -> None:
    if _holds_anything(run) and not overwrite:
        what = "another run" if run.is_run() else "other files"
        raise ConfigError(f"{run.path} already holds {what}; use --resume {run.path} to continue it "
                          f"or --overwrite to replace it")


def _holds_anything(run: RunDir) -> bool:
    """True where the folder holds something besides the lock file."""
    return run.path.is_dir() and any(p.name != RunDir.LOCK for p in run.path.iterdir())


def _empty_folder(run: RunDir) -> None:
    """Remove everything in the run folder but its lock file (held by this process)."""
    for p in run.path.iterdir():
        if p.name == RunDir.LOCK:
            continue
        try:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        except OSError as e:
            raise write_failure("run folder", run.path, e) from None


def _remove_new_run(run: RunDir, existed: bool) -> None:
    """Undo a run that failed before its first step (best effort: the failure is what matters)."""
    if existed:
        try:
            _empty_folder(run)
            run.lock.unlink(missing_ok=True)
        except Exception:
            pass
    else:
        shutil.rmtree(run.path, ignore_errors=True)


# ---------------------------------------------------------------- resuming
@contextmanager
def resumed_run(run_dir: str | Path, callbacks=(), **overrides) -> Iterator[Trainer]:
    """The run in ``run_dir`` ready to continue, with its lock held for the ``with`` block.

    ``overrides`` may change only what :func:`~modeguard.config.resume_changes` allows
    (``steps``, logging and monitor cadence, device, threads, ...); a change of identity
    (data, model, loss, strategies, seed, batch size, learning rates) raises ``ConfigError``
    listing each. What changed is added to ``history`` in ``config.yaml``. Orphan temp files
    of a killed writer are removed. Raises ``CheckpointError`` where ``run_dir`` is not a
    run, ``RunLockedError`` where another process writes it.
    """
    run = RunDir(run_dir).require()
    if not is_main_process():  # under torchrun, rank 0 holds the lock and records the history
        changes = resume_changes(TrainConfig.load(run.config), overrides)
        yield Trainer.resume(run.path, steps=changes.pop("steps", None), callbacks=callbacks, **changes)
        return
    with RunLock(run.lock):
        saved = TrainConfig.load(run.config)
        changes = resume_changes(saved, overrides)
        for folder in (run.path, run.checkpoint_dir):
            clean_orphan_temp_files(folder)
        steps = changes.pop("steps", None)
        trainer = Trainer.resume(run.path, steps=steps, callbacks=callbacks, **changes)
        if steps is not None:
            changes["steps"] = steps
        entry = history_entry(saved, changes, trainer.ctx.step)
        if entry is not None:
            recorded = {k: v for k, (_, v) in entry["changed"].items()}
            dataclasses.replace(saved, **recorded, history=[*saved.history, entry]).save(run.config)
        yield trainer


def resume_run(run_dir: str | Path, callbacks=(), **overrides) -> Trainer:
    """A trainer that continues the run in ``run_dir`` (see :func:`resumed_run`; the lock is
    released on return and ``Trainer.fit`` takes it again)."""
    with resumed_run(run_dir, callbacks, **overrides) as trainer:
        return trainer


# ---------------------------------------------------------------- using a trained run
def sample_run(run_dir: str | Path, n: int, seed: int = 0, checkpoint: str | None = None,
               notes: list | None = None) -> np.ndarray:
    """``n`` samples (numpy, data space) of the run's newest loadable (or the given) checkpoint.
    ``notes``, where given, receives a line per damaged checkpoint that was skipped."""
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    trainer = Trainer.open(run_dir, checkpoint=checkpoint, progress=False)
    if notes is not None:
        notes.extend(trainer.notes)
    return trainer.sample(n, seed)


def eval_run(run_dir: str | Path, n: int | None = None, checkpoint: str | None = None,
             notes: list | None = None) -> dict:
    """The evaluation (modes, HQ %, rev-KL, PRDC, ...) of the run's newest loadable (or given)
    checkpoint. ``notes``, where given, receives a line per damaged checkpoint that was skipped."""
    overrides = {"progress": False}
    if n is not None:
        if n < 10:
            raise ConfigError(f"-n must be >= 10, got {n}")
        overrides["eval_samples"] = n
    trainer = Trainer.open(run_dir, checkpoint=checkpoint, **overrides)
    if notes is not None:
        notes.extend(trainer.notes)
    result = trainer.evaluate()
    result["step"] = trainer.ctx.step
    return result


def save_array(path: str | Path, arr: np.ndarray) -> Path:
    """Write ``arr`` to the ``.npy`` file ``path`` atomically (parents created).

    Raises ``ConfigError`` for another suffix, ``OutputPathError`` where ``path`` is a folder or
    lies under a file, ``RunWriteError`` where the machine refuses the write."""
    path = Path(path)
    if path.suffix != ".npy":
        raise ConfigError(f"output must be a .npy file, got {path}")
    if path.is_dir():
        raise OutputPathError(f"cannot write samples {path}: it is a folder")
    blocking = next((p for p in path.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise OutputPathError(f"cannot write samples {path}: {blocking} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, lambda f: np.save(f, arr))
    except OSError as e:
        raise write_failure("samples", path, e) from None
    return path


def save_sample_grid(npy_path: str | Path, arr: np.ndarray) -> Path | None:
    """For image samples (n, C, H, W) in [0, 1], a PNG grid beside the .npy; None for point data."""
    if arr.ndim != 4:
        return None
    target = Path(npy_path).with_suffix(".png")
    try:
        return save_grid_png(arr[:100], target)
    except OSError as e:
        raise write_failure("sample grid", target, e) from None


__all__ = ["CheckpointError", "default_out", "eval_run", "new_run", "resume_run", "resumed_run", "sample_run",
           "save_array", "save_sample_grid", "start_run", "train_config"]
