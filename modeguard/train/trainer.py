"""The trainer: assembles a run, loops its steps, logs, checkpoints, samples and evaluates.

The pieces live beside it: :mod:`.assembly` builds the models and optimizers, :mod:`.step`
is the phase table of one step, :mod:`.metrics_log` the log rows, :mod:`.state` the
checkpoint dict, :mod:`.signals` the stop on Ctrl-C / SIGTERM / SIGHUP. The trainer names
no strategy and no callback: the monitor, TensorBoard and the sample figures come in as
callbacks (see :mod:`modeguard.defaults`), and steer the run through :meth:`Trainer.request_stop`.
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..atomic import atomic_write_bytes, clean_orphan_temp_files
from ..config import TrainConfig
from ..errors import DivergenceError
from ..jsonl import append_jsonl, truncate_jsonl
from ..lock import RunLock
from ..metrics import evaluate_samples
from ..rundir import RunDir
from .assembly import assemble
from .callbacks import Callback, standard_callbacks
from .checkpoint import load_checkpoint, load_newest_checkpoint, save_checkpoint
from .metrics_log import MetricsLog
from .sampling import draw_samples
from .signals import INTERRUPT, Interrupted, StopOnSignals
from .state import collect_state, nonfinite_parts, restore_state
from .step import Step

#: the ``stop_kind`` a confirmed collapse asks for (the monitor's ``on_collapse: stop|heal``)
COLLAPSE = "collapse"


class Trainer:
    """Builds a run from a :class:`TrainConfig` and trains it.

    ``Trainer(config, run_dir=None, callbacks=(), generator=None, discriminator=None,
    data=None)``: ``run_dir`` is where the run's files go (None: nothing is written);
    ``callbacks`` are added to the standard ones the config asks for; ``generator`` /
    ``discriminator`` are the user's own ``nn.Module``s and ``data`` the user's own data
    (see :func:`~modeguard.train.assembly.assemble`). ``fit()`` trains to ``config.steps`` and returns the final evaluation;
    ``sample(n, seed)`` draws from the evaluation generator; ``Trainer.open(run_dir)``
    rebuilds a run from its directory. Raises :class:`~modeguard.errors.ConfigError` /
    ``DataError`` on bad input, before anything is written.
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path | None = None, callbacks=(),
                 generator: torch.nn.Module | None = None, discriminator: torch.nn.Module | None = None, data=None):
        self.ctx = assemble(config, data, generator, discriminator)
        self.config = self.ctx.config
        self.steps = Step(self.ctx)
        self.run = RunDir(run_dir) if run_dir is not None else None
        #: the process that writes the run and runs the callbacks (rank 0 under torchrun)
        self.is_main = self.ctx.dist is None or self.ctx.dist.is_main
        self.callbacks: list[Callback] = list(callbacks)
        self.callbacks += standard_callbacks(self.config, self.callbacks)
        if not self.is_main:  # other ranks keep only the callbacks that take part on every rank
            self.callbacks = [cb for cb in self.callbacks if getattr(cb, "every_rank", False)]
            self.config.progress = False
        self.writes = self.run is not None and self.is_main
        self.log = MetricsLog(self.run.metrics if self.writes else None)
        #: set by :meth:`request_stop`: the loop stops after the current step
        self.should_stop = False
        self.stop_reason: str | None = None
        self.stop_kind: str | None = None
        #: set by ``request_stop(..., every_rank=True)``: under torchrun, stop at this step
        self.stop_agreed = False
        #: True while a checkpoint is being written (a signal then waits for it)
        self.saving = False
        #: ``(step, samples in model space)`` of the newest snapshot, for figure callbacks
        self.snapshot: tuple[int, torch.Tensor] | None = None
        #: what :meth:`open` noticed (checkpoints skipped as unreadable)
        self.notes: list[str] = []

    def request_stop(self, reason: str, kind: str = "requested", every_rank: bool = False) -> None:
        """Stop after the current step. ``kind``: ``"interrupt"`` (a checkpoint is saved and
        :meth:`fit` raises :class:`Interrupted`), ``"collapse"`` or any other word (``fit``
        returns ``{"stopped": reason, "stop_kind": kind, "step": ...}``).

        Under torchrun a request of one rank reaches the others at the next log or checkpoint
        step; ``every_rank=True`` says every rank asks at this same step (a decision rank 0
        broadcast, as the collapse monitor's), so they all stop after it."""
        if not self.should_stop or kind == INTERRUPT:
            self.should_stop, self.stop_reason, self.stop_kind = True, reason, kind
        self.stop_agreed = self.stop_agreed or every_rank

    def train_step(self) -> None:
        """One step: ``n_critic`` D steps, one G step, the strategies' after-step hooks."""
        self.steps.step()

    def fit(self, steps: int | None = None) -> dict:
        """Train until ``steps`` (default: the config's) and return the final evaluation.

        Raises :class:`Interrupted` after a signal (a checkpoint saved first),
        :class:`~modeguard.errors.DivergenceError` when the losses turn non-finite.
        """
        ctx = self.ctx
        ctx.total_steps = steps if steps is not None else ctx.total_steps
        self.should_stop, self.stop_reason, self.stop_kind = False, None, None
        self.stop_agreed = False
        self.log.restart(ctx.step)
        lock = RunLock(self.run.lock) if self.writes else nullcontext()
        with lock, StopOnSignals(self):
            if self.writes:
                self.prepare_run_dir()
            for cb in self.callbacks:
                cb.on_fit_start(self)
            self._loop()
            if self.should_stop:
                return self.finish_stopped()
            return self.finish()

    def _loop(self) -> None:
        ctx, c = self.ctx, self.config
        total = ctx.total_steps
        bar = tqdm(total=total, initial=ctx.step, desc="train", unit="step", dynamic_ncols=True,
                   mininterval=0.5) if c.progress else None
        try:
            while ctx.step < total and not (self.should_stop and ctx.dist is None):
                self.train_step()
                step = ctx.step
                at_log = step % c.log_every == 0 or step == total
                at_ckpt = self.run is not None and (step % c.ckpt_every == 0 or step == total)
                if (at_log or at_ckpt) and self._any_rank(self.steps.diverged()):
                    self.raise_diverged()
                if at_log and ctx.dist is not None:  # log the global batch's losses
                    self.steps.losses = tuple(ctx.dist.mean(torch.stack(self.steps.losses)))
                row = self.end_of_step(at_log, at_ckpt)
                if row is not None and bar is not None:
                    bar.update(step - bar.n)
                    bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}")
                if (at_log or at_ckpt or self.stop_agreed) and ctx.dist is not None and self._sync_stop():
                    break
        finally:
            if bar is not None:
                bar.close()

    def end_of_step(self, at_log: bool, at_ckpt: bool) -> dict | None:
        """What follows each step: the metrics row at log steps (returned), the sample snapshot,
        the callbacks' ``on_step_end``, the checkpoint at checkpoint steps. Shared by
        :meth:`fit`'s loop and the stacked ensemble's (:mod:`modeguard.train.ensemble`)."""
        step, c, row = self.ctx.step, self.config, None
        if at_log:
            row = self.log.log(self.ctx, self.steps)
        if self.writes and (step % c.sample_every == 0 or step == self.ctx.total_steps):
            self.take_snapshot(step)
        for cb in self.callbacks:
            cb.on_step_end(self)
        if at_ckpt:
            self.save_checkpoint()
        return row

    def _any_rank(self, flag: bool) -> bool:
        """``flag`` of this process, or of any rank under torchrun (a collective there)."""
        return flag if self.ctx.dist is None else self.ctx.dist.any(flag)

    def _sync_stop(self) -> bool:
        """Under torchrun, at log and checkpoint steps: every rank takes rank 0's stop request,
        or an interrupt that reached any rank. Returns whether to stop now."""
        dist = self.ctx.dist
        signalled = dist.any(self.should_stop and self.stop_kind == INTERRUPT)
        stop, reason, kind = dist.broadcast_object((self.should_stop, self.stop_reason, self.stop_kind))
        if stop:
            self.should_stop, self.stop_reason, self.stop_kind = stop, reason, kind
        elif signalled:
            self.request_stop(self.stop_reason or "a signal on another rank", kind=INTERRUPT)
        return self.should_stop

    def finish_stopped(self) -> dict:
        """End a stopped run: ``{"stopped", "stop_kind", "step"}``, or, after an interrupt, save
        a checkpoint and raise :class:`Interrupted`."""
        step = self.ctx.step
        if self.stop_kind != INTERRUPT:
            return {"stopped": self.stop_reason, "stop_kind": self.stop_kind, "step": step}
        where = ""
        if self.run is not None:
            if self._any_rank(self.steps.diverged()):
                self.raise_diverged()
            where = f"; checkpoint {self.save_checkpoint()}"
        raise Interrupted(f"interrupted at step {step} ({self.stop_reason}){where}")

    def finish(self) -> dict:
        """End a run that reached its last step: evaluate, tell the callbacks (they may add to
        the result), write ``eval.json`` once."""
        result = self.evaluate()
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        if self.writes:
            text = json.dumps(result, indent=2).encode()
            atomic_write_bytes(self.run.eval_json, lambda f: f.write(text))
        return result

    def raise_diverged(self) -> None:
        """Tell the callbacks and raise :class:`DivergenceError` naming the last good checkpoint."""
        ckpts = self.run.checkpoints() if self.run is not None else []
        kept = f"; last good checkpoint {ckpts[-1][1]} kept" if ckpts else ""
        loss_d, loss_g = self.steps.losses if self.steps.losses else (float("nan"), float("nan"))
        msg = (f"training diverged by step {self.ctx.step}: loss_d={float(loss_d):.4g}, "
               f"loss_g={float(loss_g):.4g}{kept}")
        for cb in self.callbacks:
            cb.on_diverged(self, msg)
        raise DivergenceError(msg)

    def take_snapshot(self, step: int) -> None:
        """Samples for the figure callbacks and, where the data has modes, one ``evals`` row."""
        samples = self.sample_model_space(min(self.config.eval_samples, 2500), seed=0)
        self.snapshot = (step, samples)
        if self.ctx.data.modes is not None:
            metrics = self.evaluate(samples=samples, prdc=False)
            append_jsonl(self.run.evals, {"step": step, **{k: v for k, v in metrics.items()
                                                           if not isinstance(v, list)}})

    def eval_generator(self, filters: bool = True) -> torch.nn.Module:
        """The generator samples come from (the EMA copy where a strategy keeps one), each
        strategy's ``eval_generator`` applied in ascending ``order`` (a wrapper after the copy).
        ``filters=False`` leaves out the sampling-only wrappers (truncation): the generator as
        trained, which the collapse monitor watches."""
        G = self.ctx.G
        for s in sorted(self.ctx.strategies, key=lambda s: s.order):
            if filters or not s.sampling_only:
                G = s.eval_generator(self.ctx, G)
        return G

    def sample_model_space(self, n: int, seed: int = 0, filters: bool = True) -> torch.Tensor:
        """``n`` samples ``(n, *data.shape)`` on the model's scale (CPU), the same for a seed
        (``filters``: as :meth:`eval_generator`)."""
        return draw_samples(self.eval_generator(filters), n, self.ctx.spec.z_dim, self.ctx.device, self.ctx.autocast,
                            seed)

    def gather_samples(self, n: int, seed: int = 0, filters: bool = True) -> torch.Tensor:
        """:meth:`sample_model_space` drawn by all ranks together under torchrun (a collective):
        each generates its share of the same latents and every rank gets all ``n``, equal to
        one process's draw at 1/W of the generator passes each. Outside torchrun: one draw."""
        dist = self.ctx.dist
        if dist is None:
            return self.sample_model_space(n, seed, filters)
        start, stop = dist.share(n)
        first = min(start, n - 1)  # an empty share still makes one sample: the shape to pad to
        x = draw_samples(self.eval_generator(filters), n, self.ctx.spec.z_dim, self.ctx.device, self.ctx.autocast,
                         seed, rows=(first, max(stop, first + 1)))
        return dist.gather_rows(x[:stop - start], n)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` samples in data space (numpy), the same for the same seed."""
        return self.ctx.data.to_data_space(self.sample_model_space(n, seed))

    def evaluate(self, samples: torch.Tensor | None = None, prdc: bool = True) -> dict:
        """The data's metrics (modes, HQ %, rev-KL, PRDC ...) of ``samples`` (default: the
        config's ``eval_samples`` fresh samples of seed 0)."""
        if samples is None:
            samples = self.sample_model_space(self.config.eval_samples, seed=0)
        return evaluate_samples(self.ctx.data, self.ctx.data.to_data_space(samples), prdc=prdc)

    def state_dict(self) -> dict:
        """The run's full state (models, optimizers, RNGs, strategies, callbacks)."""
        return collect_state(self.ctx, self.callbacks)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s output; :class:`CheckpointError` if it does not fit."""
        restore_state(self.ctx, self.callbacks, state)
        self.steps.clear_flag()

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-N.pt`` atomically and keep the newest K (and protected
        ones). Never writes non-finite weights or strategy state (DivergenceError instead)."""
        if nonfinite_parts(self.ctx):
            self.raise_diverged()
        path = self.run.checkpoint_path(self.ctx.step)
        if not self.writes:  # rank 0 writes for every rank (their states are the same)
            return path
        for cb in self.callbacks:
            cb.on_before_checkpoint(self, path)
        self.saving = True
        try:
            save_checkpoint(path, self.state_dict())
        finally:
            self.saving = False
        protect: set[Path] = set()
        for cb in self.callbacks:
            protect |= set(cb.protected_checkpoints(self))
        self.run.prune(self.config.keep_checkpoints, protect)
        for cb in self.callbacks:
            cb.on_checkpoint(self, path)
        return path

    def prepare_run_dir(self) -> None:
        """Create the run folder, clean a killed writer's temp files, write ``config.yaml``."""
        run = self.run
        run.path.mkdir(parents=True, exist_ok=True)
        for folder in (run.path, run.checkpoint_dir):
            clean_orphan_temp_files(folder)
        if not run.config.exists():
            self.config.save(run.config)

    @classmethod
    def open(cls, run_dir: str | Path, checkpoint: str | Path | None = None, callbacks=(),
             generator: torch.nn.Module | None = None, discriminator: torch.nn.Module | None = None, data=None,
             **overrides) -> "Trainer":
        """Rebuild a run from its directory and load its newest loadable checkpoint (or the
        given one). A run with no checkpoint yet opens at step 0. ``notes`` lists the
        checkpoints skipped as unreadable. A run trained on the user's own modules or
        in-memory data needs them again (``generator=``, ``discriminator=``, ``data=``);
        references (``--model FILE.py:NAME``) are in ``config.yaml``."""
        run = RunDir(run_dir).require()
        config = TrainConfig.load(run.config)
        for k, v in overrides.items():
            setattr(config, k, v)
        trainer = cls(config, run.path, callbacks=callbacks, generator=generator, discriminator=discriminator,
                      data=data)
        if checkpoint:
            trainer.load_state_dict(load_checkpoint(Path(checkpoint)))
        elif run.checkpoints():
            _, state, trainer.notes = load_newest_checkpoint(run)
            trainer.load_state_dict(state)
        trainer.ctx.total_steps = trainer.config.steps
        return trainer

    @classmethod
    def resume(cls, run_dir: str | Path, steps: int | None = None, callbacks=(), **overrides) -> "Trainer":
        """Continue a run from its newest checkpoint; rows logged after it are dropped,
        so the resumed run's logs and weights are those of an uninterrupted run.
        ``overrides`` may hold ``generator=``, ``discriminator=``, ``data=`` (see :meth:`open`)."""
        if steps is not None:
            overrides["steps"] = steps
        trainer = cls.open(run_dir, callbacks=callbacks, **overrides)
        # under torchrun only rank 0 writes: another rank's config write raced rank 0's
        # clean-up of orphan temp files in the same folder
        if trainer.writes:
            if steps is not None:
                trainer.config.save(trainer.run.config)
            for path in trainer.run.step_logs():
                truncate_jsonl(path, trainer.ctx.step)
        return trainer
