"""The trainer: a fixed-phase loop (D step(s), then a G step) with strategy hooks.

Why alternating steps with two optimizers: the article's code adds D's and G's losses and
takes one joint gradient step. Then G's parameters also receive the gradient of D's loss
(which G's output influences), so G is partly trained to help D — and both networks share
one learning-rate schedule and moment estimates. Separate D and G steps with separate
optimizers are the formulation of Goodfellow et al. (2014) that all later work builds on.
"""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import torch

from ..config import TrainConfig
from ..data import resolve_data
from ..errors import CheckpointError, ConfigError, DivergenceError, ModeGuardError
from ..losses import get_loss
from ..models import build_models, spec_for
from ..strategies import parse_strategies
from ..jsonl import append_jsonl, truncate_jsonl
from .checkpoint import RunDir, load_checkpoint, save_checkpoint
from .context import TrainContext
from .objective import AdversarialObjective, Batch


class Interrupted(ModeGuardError):
    """Ctrl-C during training; a checkpoint was saved first."""


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but PyTorch sees no CUDA device")
    return torch.device(name)


def _finite(t: torch.Tensor) -> bool:
    return bool(torch.isfinite(t).all())


class Trainer:
    """Builds a run from a :class:`TrainConfig` and trains it.

    ``Trainer(config, run_dir)`` sets everything up; ``fit()`` trains to ``config.steps``;
    ``sample(n, seed)`` draws from the evaluation generator; ``Trainer.open(run_dir)``
    rebuilds a finished or interrupted run from its directory.
    """

    def __init__(self, config: TrainConfig, run_dir: str | Path | None = None, callbacks=()):
        resolved = config.resolve()
        data = resolve_data(resolved.data)
        self.config = c = resolved.for_kind(data.kind)  # the kind's recipe and learning rates
        torch.set_num_threads(c.threads)
        strategies = parse_strategies(c.strategies)
        for s in strategies:
            s.validate(c)
        loss = get_loss(c.loss)
        device = pick_device(c.device)
        spec = spec_for(c.model, c.model_options)
        ctx = TrainContext(c, data, loss, device, spec, strategies)
        self.ctx = ctx
        setup_order = sorted(strategies, key=lambda s: s.order)
        for s in setup_order:
            s.configure_models(spec, ctx)
        torch.manual_seed(c.seed)
        G, D = build_models(spec, data.shape)
        ctx.G, ctx.D = G.to(device), D.to(device)
        ctx.objective = AdversarialObjective(loss)
        for s in setup_order:
            s.setup(ctx)
        ctx.opt_g = ctx.make_adam(ctx.G.parameters(), c.lr_g, (c.beta1, c.beta2))
        ctx.opt_d = ctx.make_adam(ctx.D.parameters(), c.lr_d, (c.beta1, c.beta2))
        for s in setup_order:
            s.configure_optimizers(ctx)
        self.run = RunDir(run_dir) if run_dir is not None else None
        self.callbacks = list(callbacks)
        from ..monitor.callback import auto_callbacks  # the monitor / TensorBoard the config asks for

        self.callbacks += auto_callbacks(c, self.callbacks)
        self._interrupt = False
        self._last_losses: tuple[torch.Tensor, torch.Tensor] | None = None
        self._t0 = time.perf_counter()
        self._t_last_log = (0, self._t0)

    # ------------------------------------------------------------------ one step
    def _phase(self, phase: str, real: torch.Tensor, fake: torch.Tensor, optimizer) -> Batch:
        """One optimisation step of D (phase "d") or G (phase "g"): strategies transform D's
        inputs, the objective gives the adversarial loss, strategies add their terms."""
        ctx = self.ctx
        batch = Batch(phase, real, fake)
        with ctx.autocast():
            batch.real_in, batch.fake_in = real, fake
            for s in ctx.strategies:
                batch.real_in, batch.fake_in = s.d_inputs(ctx, batch.real_in, batch.fake_in)
            if phase == "d":
                loss = ctx.objective.d_loss(ctx, batch)
                extras = [s.d_loss(ctx, batch) for s in ctx.strategies]
            else:
                loss = ctx.objective.g_loss(ctx, batch)
                extras = [s.g_loss(ctx, batch) for s in ctx.strategies]
            for extra in extras:
                if extra is not None:
                    loss = loss + extra
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        batch.loss = loss.detach()
        return batch

    def d_step(self) -> torch.Tensor:
        ctx = self.ctx
        n = ctx.config.batch_size
        real = ctx.sample_real(n)
        with torch.no_grad():
            fake = ctx.G(ctx.sample_z(n))
        ctx.last_d_batch = self._phase("d", real, fake, ctx.opt_d)
        return ctx.last_d_batch.loss

    def g_step(self) -> torch.Tensor:
        ctx = self.ctx
        n = ctx.config.batch_size

        def step_fn() -> torch.Tensor:
            fake = ctx.G(ctx.sample_z(n))
            ctx.last_g_batch = self._phase("g", ctx.last_d_batch.real, fake, ctx.opt_g)
            return ctx.last_g_batch.loss

        wrapped = step_fn
        for s in reversed(ctx.strategies):
            wrapped = (lambda s, inner: (lambda: s.g_step(ctx, inner)))(s, wrapped)
        # D is not trained in G's phase; freezing its grads saves the backward work
        d_params = [p for p in ctx.D.parameters() if p.requires_grad]
        for p in d_params:
            p.requires_grad_(False)
        try:
            return wrapped()
        finally:
            for p in d_params:
                p.requires_grad_(True)

    def train_step(self) -> None:
        ctx = self.ctx
        for _ in range(ctx.config.n_critic):
            loss_d = self.d_step()
        loss_g = self.g_step()
        ctx.step += 1
        self._last_losses = (loss_d, loss_g)
        for s in ctx.strategies:
            s.after_step(ctx)

    # ------------------------------------------------------------------ the loop
    def fit(self, steps: int | None = None) -> dict:
        """Train until ``steps`` (default: the config's) and return the final evaluation."""
        ctx, c = self.ctx, self.config
        total = steps if steps is not None else ctx.total_steps
        ctx.total_steps = total
        self._t_last_log = (ctx.step, time.perf_counter())  # a resumed run's rate counts its own steps
        if self.run is not None:
            self._prepare_run_dir()
        previous = signal.getsignal(signal.SIGINT)
        try:
            signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread
            previous = None
        bar = self._progress(total)
        for cb in self.callbacks:
            cb.on_fit_start(self)
        try:
            while ctx.step < total:
                self.train_step()
                step = ctx.step
                loss_d, loss_g = self._last_losses
                if not (_finite(loss_d) and _finite(loss_g)):
                    self._diverged(loss_d, loss_g)
                if step % c.log_every == 0 or step == total:
                    row = self.log_row()
                    self._append_metrics(row)
                    if bar is not None:
                        bar.update(step - bar.n)
                        bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}")
                if self.run is not None and (step % c.sample_every == 0 or step == total):
                    self._snapshot(step)
                if self.run is not None and (step % c.ckpt_every == 0 or step == total):
                    self.save_checkpoint()
                for cb in self.callbacks:
                    cb.on_step_end(self)
                if self._interrupt:
                    path = self.save_checkpoint() if self.run is not None else None
                    where = f"; checkpoint {path}" if path else ""
                    raise Interrupted(f"interrupted at step {step}{where}")
        finally:
            if bar is not None:
                bar.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        result = self.evaluate()
        if self.run is not None:
            self.run.eval_json.write_text(json.dumps(result, indent=2))
            from ..report.plots import save_samples_figure

            save_samples_figure(ctx.data, self.sample_model_space(c.eval_samples, seed=0),
                                self.run.path / "final_samples.png", f"step {ctx.step}")
        for cb in self.callbacks:
            cb.on_fit_end(self, result)
        return result

    def _on_sigint(self, signum, frame):
        if self._interrupt:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self._interrupt = True

    def _progress(self, total: int):
        if not self.config.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=self.ctx.step, desc="train", unit="step", dynamic_ncols=True,
                    mininterval=0.5)

    def _diverged(self, loss_d, loss_g):
        ckpts = self.run.checkpoints() if self.run is not None else []
        kept = f"; last good checkpoint {ckpts[-1][1]} kept" if ckpts else ""
        msg = (f"training diverged at step {self.ctx.step}: loss_d={float(loss_d):.4g}, "
               f"loss_g={float(loss_g):.4g}{kept}")
        for cb in self.callbacks:
            cb.on_diverged(self, msg)
        raise DivergenceError(msg)

    # ------------------------------------------------------------------ logging
    def log_row(self) -> dict:
        ctx = self.ctx
        now = time.perf_counter()
        last_step, last_t = self._t_last_log
        self._t_last_log = (ctx.step, now)
        loss_d, loss_g = self._last_losses
        row = {"step": ctx.step, "loss_d": float(loss_d), "loss_g": float(loss_g)}
        b = ctx.last_d_batch
        if b is not None and b.d_real is not None:
            score = ctx.objective.real_score
            row["d_real_acc"] = float((score(b.d_real.detach()) > 0).float().mean())
            row["d_fake_acc"] = float((score(b.d_fake.detach()) <= 0).float().mean())
        row["lr_g"] = ctx.opt_g.param_groups[0]["lr"]
        row["lr_d"] = ctx.opt_d.param_groups[0]["lr"]
        for k, v in ctx.stats.items():
            row[k] = float(v)
        row["steps_per_s"] = (ctx.step - last_step) / max(now - last_t, 1e-9)
        row["time_s"] = now - self._t0
        return row

    def _append_metrics(self, row: dict) -> None:
        if self.run is not None:
            append_jsonl(self.run.metrics, row)

    def _snapshot(self, step: int) -> None:
        from ..report.plots import save_samples_figure

        samples = self.sample_model_space(min(self.config.eval_samples, 2500), seed=0)
        save_samples_figure(self.ctx.data, samples, self.run.samples_dir / f"step-{step:08d}.png", f"step {step}")
        if self.ctx.data.modes is not None:
            row = {"step": step, **{k: v for k, v in self.evaluate(samples=samples, prdc=False).items()
                                    if not isinstance(v, list)}}
            append_jsonl(self.run.evals, row)

    # ------------------------------------------------------------------ sampling & eval
    def eval_generator(self) -> torch.nn.Module:
        G = self.ctx.G
        for s in self.ctx.strategies:
            G = s.eval_generator(self.ctx, G)
        return G

    @torch.no_grad()
    def sample_model_space(self, n: int, seed: int = 0, chunk: int = 10000) -> torch.Tensor:
        G = self.eval_generator()
        was_training = G.training
        G.eval()
        g = torch.Generator().manual_seed(seed)
        out = []
        try:
            for i in range(0, n, chunk):
                m = min(chunk, n - i)
                z = torch.randn(m, self.ctx.spec.z_dim, generator=g).to(self.ctx.device)
                with self.ctx.autocast():
                    out.append(G(z).float().cpu())
        finally:
            G.train(was_training)
        return torch.cat(out)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` samples in data space (numpy), the same for the same seed."""
        return self.ctx.data.to_data_space(self.sample_model_space(n, seed))

    def evaluate(self, samples: torch.Tensor | None = None, prdc: bool = True) -> dict:
        from ..metrics import evaluate_samples

        n = self.config.eval_samples
        if samples is None:
            samples = self.sample_model_space(n, seed=0)
        return evaluate_samples(self.ctx.data, self.ctx.data.to_data_space(samples), prdc=prdc)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        ctx = self.ctx
        return {
            "format": 1,
            "step": ctx.step,
            "total_steps": ctx.total_steps,
            "G": ctx.G.state_dict(),
            "D": ctx.D.state_dict(),
            "opt_g": ctx.opt_g.state_dict(),
            "opt_d": ctx.opt_d.state_dict(),
            "rng": ctx.rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "strategies": {s.name: s.state_dict() for s in ctx.strategies},
        }

    def load_state_dict(self, state: dict) -> None:
        ctx = self.ctx
        try:
            ctx.G.load_state_dict(state["G"])
            ctx.D.load_state_dict(state["D"])
            ctx.opt_g.load_state_dict(state["opt_g"])
            ctx.opt_d.load_state_dict(state["opt_d"])
            ctx.rng.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
            for s in ctx.strategies:
                s.load_state_dict(state["strategies"].get(s.name, {}))
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"checkpoint does not match this run's models "
                                  f"({str(e).splitlines()[0][:200]})") from None
        ctx.step = int(state["step"])

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-N.pt`` atomically and keep the newest K (and protected ones)."""
        params_ok = all(_finite(p) for p in self.ctx.G.parameters()) and all(
            _finite(p) for p in self.ctx.D.parameters())
        if not params_ok:  # never replace a good checkpoint with a broken model
            self._diverged(torch.tensor(float("nan")), torch.tensor(float("nan")))
        path = self.run.checkpoint_path(self.ctx.step)
        save_checkpoint(path, self.state_dict())
        protect = set()
        for cb in self.callbacks:
            protect |= set(cb.protected_checkpoints(self))
        self.run.prune(self.config.keep_checkpoints, protect)
        for cb in self.callbacks:
            cb.on_checkpoint(self, path)
        return path

    def _prepare_run_dir(self) -> None:
        run = self.run
        run.path.mkdir(parents=True, exist_ok=True)
        if not run.config.exists():
            self.config.save(run.config)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def open(cls, run_dir: str | Path, checkpoint: str | Path | None = None, callbacks=(),
             **overrides) -> "Trainer":
        """Rebuild a run from its directory and load its newest (or the given) checkpoint."""
        run = RunDir(run_dir).require()
        config = TrainConfig.load(run.config)
        for k, v in overrides.items():
            setattr(config, k, v)
        trainer = cls(config, run.path, callbacks=callbacks)
        path = Path(checkpoint) if checkpoint else run.latest_checkpoint()
        trainer.load_state_dict(load_checkpoint(path))
        trainer.ctx.total_steps = trainer.config.steps
        return trainer

    @classmethod
    def resume(cls, run_dir: str | Path, steps: int | None = None, callbacks=(), **overrides) -> "Trainer":
        """Continue a run from its newest checkpoint; rows logged after it are dropped,
        so the resumed run's logs and weights are those of an uninterrupted run."""
        if steps is not None:
            overrides["steps"] = steps
        trainer = cls.open(run_dir, callbacks=callbacks, **overrides)
        if steps is not None:
            trainer.config.save(trainer.run.config)
        step = trainer.ctx.step
        for path in trainer.run.step_logs():
            truncate_jsonl(path, step)
        return trainer
