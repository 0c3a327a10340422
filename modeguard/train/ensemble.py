"""Several seeds of one configuration trained together in one process, as a stacked ensemble.

Each seed is a full :class:`~modeguard.train.trainer.Trainer` (its own RNG stream, models
initialised with its seed, optimizers, run directory, logs, checkpoints and evaluation).
The ensemble stacks the seeds' G and D parameters into ``(S, ...)`` tensors and rebinds each
seed's parameters to views of them, so one batched forward/backward (a ``baddbmm`` per
Linear layer) computes every seed's gradients, and one fused Adam over the stacked tensors
updates every seed (each seed's moments are handed to its own optimizer for checkpoints);
the seeds' EMA copies of G are stacked the same way and averaged by one ``_foreach_lerp_``.
Adam and the EMA are elementwise and each seed's D sees only its own rows, so a seed's result
equals its solo run up to float rounding.

Only some strategies are stacked (:data:`STACKED_STRATEGIES`); :func:`stackable` says
whether a config is, and why not. The rest train one process per seed.
"""
from __future__ import annotations

import functools
import dataclasses
from contextlib import ExitStack, contextmanager
from pathlib import Path

import torch
from torch import nn

from ..config import TrainConfig
from ..data import resolve_data
from ..errors import ConfigError
from ..lock import RunLock
from ..models import HeadedDiscriminator, MLPGenerator
from ..strategies import parse_strategies
from .assembly import resolve_config
from .objective import Batch
from .signals import Interrupted, StopOnSignals
from ..optim import LeanAdam
from .step import frozen
from .trainer import Trainer

#: strategies the ensemble runs stacked: R1 is computed batched in D's phase; the others act
#: only after a step / on the optimizers / when sampling (run per seed on its own views)
STACKED_STRATEGIES = frozenset({"r1", "ema", "lr-schedule", "jacobian-truncation"})
#: model architectures whose stacked forward is checked against solo runs
STACKED_MODELS = frozenset({"mlp"})


def stackable(config: TrainConfig) -> tuple[bool, str]:
    """Whether seeds of ``config`` can train as one stacked ensemble: ``(True, "")`` or
    ``(False, reason)`` (one line, for the note that they train one process per seed)."""
    try:
        c = resolve_config(config, resolve_data(config.resolve().data))
    except Exception as e:  # noqa: BLE001 - the solo path reports bad input itself
        return False, f"the config does not resolve ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    names = [s.name for s in parse_strategies(c.strategies)]
    others = [n for n in names if n not in STACKED_STRATEGIES]
    if others:
        return False, f"strategies {', '.join(others)} are not stacked (stacked: {', '.join(sorted(STACKED_STRATEGIES))})"
    if c.model not in STACKED_MODELS:
        return False, f"model {c.model!r} is not stacked (stacked: {', '.join(sorted(STACKED_MODELS))})"
    if any(c.model_options.get(k) for k in ("g_batchnorm", "d_batchnorm")):
        return False, "batch norm is not stacked (its batch statistics mix the seeds' rows)"
    if c.amp:
        return False, "amp (bf16 autocast) is not stacked"
    if c.on_collapse in ("stop", "heal"):
        return False, f"on_collapse {c.on_collapse!r} acts on one seed's run (its rollback is not stacked)"
    return True, ""


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"3"``, ``"0,2,5-7"`` -> sorted distinct seeds; ConfigError otherwise."""
    seeds: set[int] = set()
    try:
        for part in str(text).split(","):
            lo, _, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if hi else int(lo)
            if first < 0 or last < first:
                raise ValueError
            seeds.update(range(first, last + 1))
    except ValueError:
        raise ConfigError(f"seeds must look like 0-9 or 0,2,5-7, got {text!r}") from None
    return sorted(seeds)


#: layers that act on each row alone, so they run unchanged on ``(S, n, h)``
_ROWWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.ELU, nn.Identity)


def _batched_layers_only(module: nn.Module) -> bool:
    """Whether :func:`_batched_forward` knows every layer of ``module``."""
    if isinstance(module, (nn.Linear, *_ROWWISE)):
        return True
    if isinstance(module, nn.Flatten):
        return module.start_dim == 1 and module.end_dim == -1
    if isinstance(module, (nn.Sequential, MLPGenerator, HeadedDiscriminator)):
        return all(_batched_layers_only(m) for m in module.children())
    return False


class _BatchedLinear(torch.autograd.Function):
    """``x @ w.mT + b`` per seed: ``x`` ``(S, n, in)``, ``w`` ``(S, out, in)``, ``b`` ``(S, out)`` or None.

    ``baddbmm`` on ``w.mT`` computes the same forward, but autograd then hands back ``w``'s
    gradient as the transpose of an ``(S, in, out)`` product, and adding that strided view into
    ``w.grad`` cost more than the matmul itself (a third of the stacked ring8 step). This
    backward forms ``w``'s gradient as ``g.mT @ x`` in ``w``'s own layout, as ``nn.Linear``'s
    does. It is written in differentiable ops, so R1's double backward runs through it.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return torch.bmm(x, w.mT) if b is None else torch.baddbmm(b.unsqueeze(1), x, w.mT)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        if _InputGradsOnly.active:  # R1's input gradient: nobody reads the weights' gradients
            need_w = need_b = False
        gx = torch.bmm(g, w) if need_x else None
        gw = torch.bmm(g.mT, x) if need_w else None
        gb = g.sum(1) if need_b and ctx.has_bias else None
        return gx, gw, gb


class _InputGradsOnly:
    """Within the block, :class:`_BatchedLinear` computes input gradients only.

    ``ctx.needs_input_grad`` says which inputs require grad, not which gradients the current
    ``autograd.grad`` call asked for, so R1's pass for the reals' gradient would also form
    every weight's gradient (a quarter of the stacked step's weight-gradient matmuls) and
    drop it. The penalty's own dependence on the weights is unaffected: the double backward
    differentiates the recorded ``g @ w`` of the input gradient."""

    active = False

    def __enter__(self) -> None:
        type(self).active = True

    def __exit__(self, *exc) -> None:
        type(self).active = False


def _batched_forward(module: nn.Module, params: dict, x: torch.Tensor, prefix: str = "") -> torch.Tensor:
    """``module``'s forward on ``x`` ``(S, n, ...)`` with the stacked ``params`` (``(S, ...)``
    per name): each Linear is one :class:`_BatchedLinear` (a ``baddbmm``, the bias add fused)."""
    if isinstance(module, nn.Linear):
        return _BatchedLinear.apply(x, params[prefix + "weight"], params.get(prefix + "bias"))
    if isinstance(module, nn.Flatten):
        return x.flatten(2)
    if isinstance(module, MLPGenerator):
        out = _batched_forward(module.net, params, x, prefix + "net.")
        return out.reshape(*x.shape[:2], *module.out_shape)
    if isinstance(module, (nn.Sequential, HeadedDiscriminator)):  # children in forward order
        for name, child in module.named_children():
            x = _batched_forward(child, params, x, f"{prefix}{name}.")
        return x
    return module(x)


class _StackedNet:
    """The seeds' copies of one network as ``(S, ...)`` parameter tensors.

    Each seed's module keeps its own ``Parameter`` objects (so its optimizer, EMA and
    state_dict work as usual) whose data are views of the stacked tensors, and whose grads
    are views of the stacked grads. ``forward(x)`` maps ``(S, n, ...)`` to ``(S, n, ...)``.
    ``trainable=False`` stacks copies nobody trains (the seeds' EMA generators): every
    parameter, and no grads.
    """

    def __init__(self, modules: list[torch.nn.Module], trainable: bool = True):
        if any(True for _ in modules[0].buffers()) or not _batched_layers_only(modules[0]):
            raise ConfigError(f"{type(modules[0]).__name__} has layers the ensemble does not stack "
                              "(batch norm, batch-level layers)")
        self.modules, self.trainable = modules, trainable
        names = [n for n, p in modules[0].named_parameters() if p.requires_grad or not trainable]
        per_seed = [dict(m.named_parameters()) for m in modules]
        self.params = {n: torch.stack([ps[n].detach() for ps in per_seed]).requires_grad_(trainable) for n in names}
        for n, stacked in self.params.items():
            stacked.grad = torch.zeros_like(stacked) if trainable else None
        self._per_seed = per_seed
        self.bind()
        self.forward = functools.partial(_batched_forward, modules[0])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(self.params, x)

    def bind(self) -> None:
        """Point every seed's parameters (and grads) at their slices of the stacked tensors."""
        for s, ps in enumerate(self._per_seed):
            for n, stacked in self.params.items():
                ps[n].data = stacked.detach()[s]
                if self.trainable:
                    ps[n].grad = stacked.grad[s]

    @torch.no_grad()
    def restack(self) -> None:
        """Copy the seeds' own parameters back into the stacked tensors and bind them again."""
        for n, stacked in self.params.items():
            stacked.copy_(torch.stack([ps[n].detach() for ps in self._per_seed]))
        self.bind()

    def unbind(self) -> None:
        """Give every seed's parameters storage of their own (same values)."""
        for ps in self._per_seed:
            for n in self.params:
                ps[n].data = ps[n].data.clone()
                if self.trainable:
                    ps[n].grad = None

    def zero_grad(self) -> None:
        """Zero the stacked grads in place (the seeds' grad views stay valid)."""
        torch._foreach_zero_([p.grad for p in self.params.values()])

    # one fused Adam over the stacked tensors does every seed's update in one call: Adam is
    # elementwise and the seeds share their hyperparameters and step count
    def build_optimizer(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """The stacked Adam, with the hyperparameters (and any state) of the seeds' own ones."""
        first = optimizers[0]
        group = {k: v for k, v in first.param_groups[0].items() if k in first.defaults}  # not a schedule's keys
        self.adam = LeanAdam(list(self.params.values()), **group)
        self.read_optimizer_states(optimizers)

    def read_optimizer_states(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """Stack the seeds' own Adam moments into the stacked Adam (where every seed has them:
        a resumed or rolled-back run)."""
        if all(len(opt.state) == len(self.params) for opt in optimizers):
            for n, stacked in self.params.items():
                seeds = [opt.state[ps[n]] for opt, ps in zip(optimizers, self._per_seed)]
                self.adam.state[stacked] = {"step": seeds[0]["step"].clone(),
                                            **{k: torch.stack([st[k] for st in seeds])
                                               for k in ("exp_avg", "exp_avg_sq")}}

    def optimizer_step(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """One Adam update of every seed at the first seed's current learning rate (a
        schedule sets the same rate in every seed's optimizer)."""
        self.adam.param_groups[0]["lr"] = optimizers[0].param_groups[0]["lr"]
        self.adam.step()

    def write_optimizer_states(self, optimizers: list[torch.optim.Optimizer]) -> None:
        """Copy each seed's slice of the stacked Adam state into the seed's own optimizer (for
        its checkpoint; tensors of its own, not views)."""
        for n, stacked in self.params.items():
            state = self.adam.state.get(stacked)
            if not state:
                continue
            for s, (opt, ps) in enumerate(zip(optimizers, self._per_seed)):
                opt.state[ps[n]] = {"step": state["step"].clone(), "exp_avg": state["exp_avg"][s].clone(),
                                    "exp_avg_sq": state["exp_avg_sq"][s].clone()}


class Ensemble:
    """Trains ``seeds`` of ``config`` together; seed K's run lives in ``run_dir/seed-K``.

    ``Ensemble(config, seeds, run_dir=None, callbacks=lambda seed: ())``: ``callbacks``
    gives each seed's extra callbacks. ``trainers`` holds one :class:`Trainer` per seed
    (use them to sample, evaluate or resume a seed). ``fit()`` trains every seed to
    ``config.steps`` and returns their final evaluations in seed order. Raises
    :class:`ConfigError` when :func:`stackable` says no (train those seeds one process
    per seed), or for bad input.
    """

    def __init__(self, config: TrainConfig, seeds: list[int], run_dir: str | Path | None = None,
                 callbacks=lambda seed: ()):
        ok, reason = stackable(config)
        if not ok:
            raise ConfigError(f"these seeds cannot train together: {reason}")
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds must be distinct and at least one, got {seeds!r}")
        self.seeds = list(seeds)
        self.trainers = [Trainer(dataclasses.replace(config, seed=s),
                                 None if run_dir is None else Path(run_dir) / f"seed-{s}", callbacks=callbacks(s))
                         for s in self.seeds]
        self.ctxs = [t.ctx for t in self.trainers]
        c = self.ctxs[0].config
        if any(ctx.dist is not None for ctx in self.ctxs):
            raise ConfigError("seeds cannot train together under torchrun")
        self.G = _StackedNet([ctx.G for ctx in self.ctxs])
        self.D = _StackedNet([ctx.D for ctx in self.ctxs])
        self.opt_g = [ctx.opt_g for ctx in self.ctxs]
        self.opt_d = [ctx.opt_d for ctx in self.ctxs]
        self.G.build_optimizer(self.opt_g)
        self.D.build_optimizer(self.opt_d)
        # every seed's EMA copy of G stacked too: one lerp over the stacked tensors per step
        # replaces a per-seed update (each seed's after_step hook for it is left out)
        emas = [[s for s in ctx.strategies if s.name == "ema"] for ctx in self.ctxs]
        self.emas = [e[0] for e in emas] if all(len(e) == 1 for e in emas) else []
        self.G_ema = _StackedNet([e.average.module for e in self.emas], trainable=False) if self.emas else None
        if self.G_ema is not None:  # (the stacked tensors live as long as the ensemble)
            self._ema_pairs = ([self.G_ema.params[n] for n in self.G.params],
                               [p.detach() for p in self.G.params.values()])
        self._hooks = [[h for h in t.steps.table.after_step if getattr(h, "__self__", None) not in self.emas]
                       for t in self.trainers]
        self.loss = self.ctxs[0].loss
        self._loss_d = torch.vmap(self.loss.d)
        self._loss_g = torch.vmap(self.loss.g)
        r1 = [s for s in self.ctxs[0].strategies if s.name == "r1"]
        self.r1 = r1[0] if r1 else None
        self._r1_per_seed = [[s for s in ctx.strategies if s.name == "r1"] for ctx in self.ctxs]
        self.n, self.n_critic = c.batch_size, c.n_critic
        self._loss_sum = torch.zeros(len(self.seeds))
        self._d_batch: tuple | None = None
        self._r1_calls = self._r1_state()
        self._r1_stat: torch.Tensor | None = None

    # ------------------------------------------------------------------ one step
    def _draw(self, what: str) -> torch.Tensor:
        """Each seed's ``(n, ...)`` draw from its own RNG stream, stacked ``(S, n, ...)``."""
        if what == "real":
            return torch.stack([ctx.sample_real(self.n) for ctx in self.ctxs])
        return torch.stack([ctx.sample_z(self.n) for ctx in self.ctxs])

    def _r1_due(self) -> bool:
        return self.r1 is not None and (self._r1_calls + 1) % self.r1.every == 0

    def d_step(self) -> torch.Tensor:
        """One D step of every seed; returns the seeds' D losses ``(S,)``."""
        reals, zs = [], []
        for ctx in self.ctxs:  # the solo order of draws: reals, then latents
            reals.append(ctx.sample_real(self.n))
            zs.append(ctx.sample_z(self.n))
        real, z = torch.stack(reals), torch.stack(zs)
        with torch.no_grad():
            fake = self.G(z)
        r1_now = self._r1_due()
        real_in = real.detach().requires_grad_(True) if r1_now else real
        d_real, d_fake = self.D(real_in), self.D(fake)
        loss = self._loss_d(d_real, d_fake)
        if self.r1 is not None:
            self._r1_calls += 1
        if r1_now:  # each seed's D sees only its rows, so one grad gives every seed's penalty
            with _InputGradsOnly():
                (grad,) = torch.autograd.grad(d_real.sum(), real_in, create_graph=True)
            penalty = grad.reshape(*grad.shape[:2], -1).pow(2).sum(2).mean(1)
            loss = loss + 0.5 * self.r1.gamma * self.r1.every * penalty
            self._r1_stat = penalty.detach()
        self.D.zero_grad()
        loss.sum().backward(inputs=list(self.D.params.values()))
        self.D.optimizer_step(self.opt_d)
        self._d_batch = (real, fake, d_real.detach(), d_fake.detach())
        return loss.detach()

    def g_step(self) -> torch.Tensor:
        """One G step of every seed; returns the seeds' G losses ``(S,)``."""
        fake = self.G(self._draw("z"))
        with frozen(list(self.D.params.values())):  # a custom backward cannot tell D is left out
            loss = self._loss_g(self.D(fake))
        self.G.zero_grad()
        loss.sum().backward(inputs=list(self.G.params.values()))
        self.G.optimizer_step(self.opt_g)
        return loss.detach()

    def step(self) -> None:
        """``n_critic`` D steps and one G step of every seed, then each seed's after-step hooks."""
        for _ in range(self.n_critic):
            loss_d = self.d_step()
        loss_g = self.g_step()
        self._loss_sum.add_(loss_d).add_(loss_g)
        for s, (t, ctx) in enumerate(zip(self.trainers, self.ctxs)):
            ctx.step += 1
            t.steps.losses = (loss_d[s], loss_g[s])
            if self._r1_stat is not None:
                ctx.stats["r1"] = self._r1_stat[s]
        if self.G_ema is not None:
            self._update_ema()
        for hooks, ctx in zip(self._hooks, self.ctxs):
            for hook in hooks:
                hook(ctx)

    @torch.no_grad()
    def _update_ema(self) -> None:
        """Every seed's EMA update at once (the seeds share the step and the EMA's options;
        the stacked G has no buffers, so there are no statistics to average)."""
        beta, _ = self.emas[0].update_args(self.ctxs[0])
        torch._foreach_lerp_(*self._ema_pairs, self.emas[0].average.lerp_weight(beta))

    # ------------------------------------------------------------------ the loop
    def fit(self, steps: int | None = None) -> list[dict]:
        """Train every seed to ``steps`` (default: the config's) in lock-step, logging,
        checkpointing and evaluating each seed in its own run directory; returns the seeds'
        final evaluations. Raises DivergenceError when a seed's losses turn non-finite."""
        total = steps if steps is not None else self.ctxs[0].total_steps
        self._r1_calls = self._r1_state()
        with ExitStack() as stack:
            stack.enter_context(StopOnSignals(self.trainers[0]))  # a stop of one stops every seed
            for t in self.trainers:
                t.ctx.total_steps = total
                t.log.restart(t.ctx.step)
                if t.writes:
                    stack.enter_context(RunLock(t.run.lock))
                    t.prepare_run_dir()
                for cb in t.callbacks:
                    cb.on_fit_start(t)
            self._loop(total)
            self._release()
            if not any(t.should_stop for t in self.trainers):
                return [t.finish() for t in self.trainers]
            return self._stop_all()

    def _stop_all(self) -> list[dict]:
        """Every seed stops as the first that asked did (an interrupt saves every seed's
        checkpoint, then raises one :class:`Interrupted`)."""
        first = next(t for t in self.trainers if t.should_stop)
        results, interrupted = [], []
        for t in self.trainers:
            t.request_stop(first.stop_reason if t is first else f"another seed stopped: {first.stop_reason}",
                           kind=first.stop_kind)
            try:
                results.append(t.finish_stopped())
            except Interrupted as e:
                interrupted.append(str(e))
        if interrupted:
            raise Interrupted("; ".join(interrupted))
        return results

    def _loop(self, total: int) -> None:
        c = self.ctxs[0].config
        while self.ctxs[0].step < total:
            self.step()
            step = self.ctxs[0].step
            at_log = step % c.log_every == 0 or step == total
            at_ckpt = step % c.ckpt_every == 0 or step == total
            if at_log or at_ckpt:
                self._check_finite()
            if at_log and self._d_batch is not None:
                self._set_last_batches()
            with self._own_storage(at_ckpt):
                for t in self.trainers:  # each seed's log, snapshot, callbacks and checkpoint
                    t.end_of_step(at_log, at_ckpt and t.run is not None)
            if any(t.should_stop for t in self.trainers):
                break

    @contextmanager
    def _own_storage(self, active: bool):
        """While saving checkpoints, each seed's tensors own their storage (a view would
        save the whole stacked tensor); the edits made inside (a rollback) are kept."""
        if not active:
            yield
            return
        self._release()
        try:
            yield
        finally:
            for net, opts in ((self.G, self.opt_g), (self.D, self.opt_d)):
                net.restack()
                net.read_optimizer_states(opts)
            if self.G_ema is not None:
                self.G_ema.restack()
            self._r1_calls = self._r1_state()

    def _release(self) -> None:
        """Hand each seed its own weights, optimizer moments and R1 count (for its checkpoint
        or for use after training)."""
        self._set_r1_state()
        self.G.write_optimizer_states(self.opt_g)
        self.D.write_optimizer_states(self.opt_d)
        self.G.unbind()
        self.D.unbind()
        if self.G_ema is not None:
            self.G_ema.unbind()

    def _check_finite(self) -> None:
        bad = ~torch.isfinite(self._loss_sum)
        for s in bad.nonzero().flatten().tolist():
            self.trainers[s].steps.losses = (self._loss_sum[s], self._loss_sum[s])
            self._release()
            self.trainers[s].raise_diverged()

    def _set_last_batches(self) -> None:
        """Each seed's last D batch (its slice of the stacked one), for D's accuracy in the log."""
        real, fake, d_real, d_fake = self._d_batch
        for s, ctx in enumerate(self.ctxs):
            ctx.last_d_batch = Batch("d", real[s], fake[s], real[s], fake[s], d_real[s], d_fake[s])

    def _r1_state(self) -> int:
        states = [r[0].state_dict()["calls"] for r in self._r1_per_seed if r]
        return states[0] if states else 0

    def _set_r1_state(self) -> None:
        for r in self._r1_per_seed:
            if r:
                r[0].load_state_dict({"calls": self._r1_calls})


def train_seeds(config: TrainConfig, seeds: list[int], out: str | Path, callbacks=lambda seed: (),
                notes: list[str] | None = None) -> list[dict]:
    """Train ``seeds`` of ``config`` into ``out/seed-K`` each; returns their final evaluations
    in seed order. Stacked in one :class:`Ensemble` where :func:`stackable` allows, else one
    :class:`Trainer` after another (the reason is appended to ``notes``). Raises
    :class:`ConfigError` where a seed's folder already holds a run."""
    out = Path(out)
    for s in seeds:
        if (out / f"seed-{s}" / "config.yaml").exists():
            raise ConfigError(f"{out / f'seed-{s}'} already holds a run; pick another --out")
    ok, reason = stackable(config)
    if ok:
        return Ensemble(config, seeds, out, callbacks).fit()
    if notes is not None:
        notes.append(f"seeds train one after another, not stacked: {reason}")
    return [Trainer(dataclasses.replace(config, seed=s), out / f"seed-{s}", callbacks=callbacks(s)).fit()
            for s in seeds]
