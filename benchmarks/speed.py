"""Speed: ModeGuard's step against hand-written anchors, and CPU time to a collapse-free run.

Sections (pick any; none given = ``--step``):

``--step``
    One training step of the recipe ``r1:gamma=0.1,ema:beta=0.999,lr-schedule:warmup=0:final=0.01``
    (model ``mlp``, batch 64, lr 3e-3: ring8's defaults; ns loss) timed in one process, in
    interleaved rounds whose order rotates: ModeGuard's ``fit`` (the loop users get, with
    logging, snapshots and checkpoints off), ModeGuard's ``train_step`` alone, the best eager
    PyTorch loop of the same recipe written by hand with ``torch.optim`` (and two ablations
    of it: R1 with its own forward of D; ModeGuard's ``LeanAdam`` in place of
    ``torch.optim.Adam``, which leaves the framework's own cost), and the same step in JAX (``jax.jit`` +
    ``lax.scan`` over K steps; skipped with a note when jax is not installed:
    ``pip install -e .[bench]``). CPU seconds of this process (``time.process_time``); ratios
    are medians of per-round ratios. Achieved GFLOP/s counts the step's matmul FLOPs
    analytically and is set against this core's measured ``torch.mm`` GFLOP/s (the limit).
``--time-to-quality``
    Per seed, the CPU seconds of training until the EMA generator meets the quality targets
    (ring8: 8/8 strict modes, HQ >= 97 %, rev-KL <= 0.02; grid25: 25/25, HQ >= 95 %,
    rev-KL <= 0.02), evaluated every ``steps / --evals`` steps with ModeGuard's metrics (the
    evaluations' own CPU time is not counted); plus the whole-process CPU seconds of
    ``modeguard train --data ring8`` in a subprocess (``--whole-process``).
``--profile``
    torch.profiler over ModeGuard's ``train_step`` and the hand loop: operator calls and self
    CPU time per step, the operators where ModeGuard spends more listed first.
``--seeds-together``
    Per-seed throughput (CPU-s per seed-step) of ``--together`` seeds of the recipe trained in
    one process as a stacked ensemble (:mod:`modeguard.train.ensemble`) against one
    ``Trainer`` per seed, in interleaved rounds; the ratio is the median per-round ratio.

    python benchmarks/speed.py --step [--rounds 8 --steps 300]
    python benchmarks/speed.py --profile [--steps 200]
    python benchmarks/speed.py --seeds-together [--together 8 --rounds 4 --steps 100]
    python benchmarks/speed.py --time-to-quality --data ring8 --seeds 10 [--strategies ... --train-steps N]

Tables go to stdout and ``benchmarks/results/speed-<section>.md`` / ``.csv``.
"""
from __future__ import annotations

import argparse
import csv
import functools
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from modeguard.allocator import ENV, keep_freed_memory
from modeguard.config import TrainConfig
from modeguard.data import resolve_data
from modeguard.models import build_models, spec_for
from modeguard.optim import LeanAdam
from modeguard.train import Callback, Trainer
from modeguard.train.ensemble import Ensemble, stackable

RECIPE = "r1:gamma=0.1,ema:beta=0.999,lr-schedule:warmup=0:final=0.01"
GAMMA, EMA_BETA, LR_FINAL = 0.1, 0.999, 0.01
BATCH, LR, BETAS = 64, 3e-3, (0.5, 0.999)  # ring8's defaults (modeguard.recipes)
#: the schedule's horizon for the step benchmark (the cosine factor is computed, not reached)
SCHEDULE_STEPS = 12000
#: quality targets per data set: strict modes (all), HQ % at least, rev-KL at most
TARGETS = {"ring8": (8, 97.0, 0.02), "grid25": (25, 95.0, 0.02)}
RESULTS = Path(__file__).resolve().parent / "results"
#: whether tables are written under RESULTS (``--no-save`` for smoke runs)
SAVE = True


def cosine_factor(step: int, total: int) -> float:
    """The lr factor of ``lr-schedule:warmup=0:final=LR_FINAL`` (cosine) for update ``step``."""
    p = min(1.0, step / max(1, total))
    return LR_FINAL + (1.0 - LR_FINAL) * 0.5 * (1.0 + math.cos(math.pi * p))


# ---------------------------------------------------------------------------- contenders
class ModeGuardFit:
    """ModeGuard as users run it: ``Trainer(config).fit()`` with no run directory and the
    per-step logging row pushed out of reach (the final evaluation is not timed)."""

    label = "modeguard fit"

    def __init__(self, seed: int = 0, strategies: str = RECIPE):
        config = TrainConfig(data="ring8", model="mlp", loss="ns", strategies=strategies, batch_size=BATCH,
                             lr_g=LR, lr_d=LR, seed=seed, device="cpu", threads=1, progress=False,
                             steps=SCHEDULE_STEPS, log_every=10**9)
        self.trainer = Trainer(config, run_dir=None)
        self.trainer.evaluate = lambda *a, **k: {}  # the step rate excludes the final evaluation

    def run(self, steps: int) -> float:
        """Train ``steps`` more steps; return this process's CPU seconds."""
        c0 = time.process_time()
        self.trainer.fit(self.trainer.ctx.step + steps)
        return time.process_time() - c0


class ModeGuardStep(ModeGuardFit):
    """``Trainer.train_step`` called in a bare loop: the step without fit's loop around it."""

    label = "modeguard train_step"

    def run(self, steps: int) -> float:
        step = self.trainer.train_step
        c0 = time.process_time()
        for _ in range(steps):
            step()
        return time.process_time() - c0


class HandLoop:
    """The recipe written by hand in eager PyTorch, as a performance engineer would.

    Fused Adam; D's forward on the reals is shared by the ns loss and R1 (the reals carry
    ``requires_grad``, and R1's input gradient is taken from that same forward); D's
    parameters are frozen for G's phase (no weight gradients nobody reads); the EMA is one
    ``torch._foreach_lerp_``; data and latents are drawn into buffers allocated once.
    Draws the same random numbers in the same order as ModeGuard (ring8: mode index, noise,
    then the latents).
    """

    label = "hand-written eager"

    def __init__(self, seed: int = 0, share_forward: bool = True, lean_adam: bool = False):
        #: False: R1 runs its own forward of D on the reals (an ablation)
        self.share_forward = share_forward
        if not share_forward:
            self.label = "hand, R1 with its own D forward"
        if lean_adam:  # an ablation: the hand loop with ModeGuard's optimizer, the framework's cost alone
            self.label = "hand with ModeGuard's LeanAdam"
        torch.manual_seed(seed)
        self.spec = spec_for("mlp")
        self.data = resolve_data("ring8")
        self.G, self.D = build_models(self.spec, self.data.shape)
        self.G_ema = [p.detach().clone() for p in self.G.parameters()]
        self.g_params, self.d_params = list(self.G.parameters()), list(self.D.parameters())
        adam = LeanAdam if lean_adam else functools.partial(torch.optim.Adam, fused=True)
        self.opt_g = adam(self.g_params, lr=LR, betas=BETAS)
        self.opt_d = adam(self.d_params, lr=LR, betas=BETAS)
        self.rng = torch.Generator().manual_seed(seed)
        self.centers = torch.as_tensor(self.data.modes.centers, dtype=torch.float32)
        self.std = float(self.data.modes.std)
        n, z = BATCH, self.spec.z_dim
        self.idx = torch.empty(n, dtype=torch.long)
        self.noise, self.real = torch.empty(n, 2), torch.empty(n, 2)
        self.z_d, self.z_g = torch.empty(n, z), torch.empty(n, z)
        self.step = 0

    def _draw_real(self) -> torch.Tensor:
        torch.randint(len(self.centers), (BATCH,), generator=self.rng, out=self.idx)
        torch.randn(BATCH, 2, generator=self.rng, out=self.noise)
        torch.index_select(self.centers, 0, self.idx, out=self.real)
        return self.real.add_(self.noise, alpha=self.std)

    def train_step(self) -> None:
        G, D, rng = self.G, self.D, self.rng
        lr = LR * cosine_factor(self.step, SCHEDULE_STEPS)
        for opt in (self.opt_d, self.opt_g):
            opt.param_groups[0]["lr"] = lr
        # D: ns loss + (gamma/2) E||grad_x D(x)||^2, one forward on the reals for both
        real = self._draw_real().requires_grad_(True)
        with torch.no_grad():
            fake = G(torch.randn(BATCH, self.spec.z_dim, generator=rng, out=self.z_d))
        d_real = D(real)
        r1_out = d_real if self.share_forward else D(real)
        (grad,) = torch.autograd.grad(r1_out.sum(), real, create_graph=True)
        loss_d = (F.softplus(-d_real).mean() + F.softplus(D(fake)).mean()
                  + (0.5 * GAMMA) * grad.pow(2).sum(1).mean())
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        real.requires_grad_(False)
        # G: non-saturating loss through a frozen D
        for p in self.d_params:
            p.requires_grad_(False)
        loss_g = F.softplus(-D(G(torch.randn(BATCH, self.spec.z_dim, generator=rng, out=self.z_g)))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        for p in self.d_params:
            p.requires_grad_(True)
        with torch.no_grad():
            torch._foreach_lerp_(self.G_ema, self.g_params, 1.0 - EMA_BETA)
        self.step += 1

    def run(self, steps: int) -> float:
        """Train ``steps`` steps; return this process's CPU seconds."""
        step = self.train_step
        c0 = time.process_time()
        for _ in range(steps):
            step()
        return time.process_time() - c0


# ---------------------------------------------------------------------------- JAX anchor
def jax_available() -> bool:
    """Whether the optional ``jax`` (CPU jaxlib) anchor can run."""
    try:
        import jax  # noqa: F401  (optional extra: pip install -e .[bench])
    except ImportError:
        return False
    return True


class JaxLoop:
    """The same step in JAX: pure functions of (params, Adam state, EMA, key), ``jax.jit``
    over a ``lax.scan`` of K steps, starting from the same weights as the torch loops."""

    label = "JAX jit+scan"

    def __init__(self, seed: int = 0, chunk: int = 100):
        # one thread, like the torch loops (XLA's CPU client otherwise spreads over all cores)
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
        import jax  # optional extra
        import jax.numpy as jnp

        jax.config.update("jax_platforms", "cpu")
        self.jax, self.jnp = jax, jnp
        torch.manual_seed(seed)
        spec = spec_for("mlp")
        data = resolve_data("ring8")
        G, D = build_models(spec, data.shape)
        self.z_dim = spec.z_dim
        self.centers = jnp.asarray(data.modes.centers, dtype=jnp.float32)
        self.std = float(data.modes.std)
        g, d = _linear_params(G), _linear_params(D)
        zeros = lambda t: jax.tree_util.tree_map(jnp.zeros_like, t)  # noqa: E731
        self.state = (g, d, (zeros(g), zeros(g)), (zeros(d), zeros(d)), g, jnp.int32(0),
                      jax.random.PRNGKey(seed))
        self.chunk = chunk
        self._scan = jax.jit(self._make_scan(chunk))

    def _make_scan(self, k: int):
        jax, jnp = self.jax, self.jnp
        mlp = _jax_mlp(jnp)

        def adam(p, grads, m, v, t, lr):
            b1, b2 = BETAS
            m = jax.tree_util.tree_map(lambda a, g_: b1 * a + (1 - b1) * g_, m, grads)
            v = jax.tree_util.tree_map(lambda a, g_: b2 * a + (1 - b2) * g_ * g_, v, grads)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            p = jax.tree_util.tree_map(lambda w, a, b: w - lr * (a / c1) / (jnp.sqrt(b / c2) + 1e-8), p, m, v)
            return p, m, v

        def d_loss(d, g, real, z):
            fake = jax.lax.stop_gradient(mlp(g, z, "relu"))
            d_of = lambda x: mlp(d, x, "leaky")  # noqa: E731
            d_real, vjp = jax.vjp(d_of, real)
            (grad,) = vjp(jnp.ones_like(d_real))
            r1 = jnp.mean(jnp.sum(grad ** 2, axis=1))
            return (jnp.mean(jax.nn.softplus(-d_real)) + jnp.mean(jax.nn.softplus(d_of(fake)))
                    + 0.5 * GAMMA * r1)

        def g_loss(g, d, z):
            return jnp.mean(jax.nn.softplus(-mlp(d, mlp(g, z, "relu"), "leaky")))

        def one_step(state, _):
            g, d, (mg, vg), (md, vd), ema, t, key = state
            key, k1, k2, k3, k4 = jax.random.split(key, 5)
            idx = jax.random.randint(k1, (BATCH,), 0, len(self.centers))
            real = self.centers[idx] + self.std * jax.random.normal(k2, (BATCH, 2))
            p = jnp.minimum(1.0, t / SCHEDULE_STEPS)
            lr = LR * (LR_FINAL + (1 - LR_FINAL) * 0.5 * (1 + jnp.cos(jnp.pi * p)))
            t1 = t + 1
            gd = jax.grad(d_loss)(d, g, real, jax.random.normal(k3, (BATCH, self.z_dim)))
            d, md, vd = adam(d, gd, md, vd, t1, lr)
            gg = jax.grad(g_loss)(g, d, jax.random.normal(k4, (BATCH, self.z_dim)))
            g, mg, vg = adam(g, gg, mg, vg, t1, lr)
            ema = jax.tree_util.tree_map(lambda e, w: e + (1 - EMA_BETA) * (w - e), ema, g)
            return (g, d, (mg, vg), (md, vd), ema, t1, key), None

        def scan(state):
            return jax.lax.scan(one_step, state, None, length=k)[0]

        return scan

    def run(self, steps: int) -> float:
        """Train ``steps`` (rounded up to whole chunks) steps; return CPU seconds."""
        c0 = time.process_time()
        for _ in range(math.ceil(steps / self.chunk)):
            self.state = self._scan(self.state)
        self.jax.block_until_ready(self.state)
        return (time.process_time() - c0) * steps / (math.ceil(steps / self.chunk) * self.chunk)


def _linear_params(net: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W^T, b) of every ``nn.Linear`` of ``net`` in order, as numpy arrays."""
    return [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy())
            for m in net.modules() if isinstance(m, torch.nn.Linear)]


def _jax_mlp(jnp):
    """``mlp(params, x, act)``: the Linear stack with ReLU / LeakyReLU(0.2) between layers."""
    def mlp(params, x, act):
        for i, (w, b) in enumerate(params):
            x = x @ w + b
            if i < len(params) - 1:
                x = jnp.maximum(x, 0) if act == "relu" else jnp.where(x > 0, x, 0.2 * x)
        return x

    return mlp


# ---------------------------------------------------------------------------- FLOPs and the limit
def layer_sizes(widths: list[int]) -> list[tuple[int, int]]:
    return list(zip(widths[:-1], widths[1:]))


def step_matmul_flops(batch: int = BATCH) -> dict[str, float]:
    """Matmul FLOPs of one step of the recipe (2 per multiply-add), counted by pass.

    A linear layer (a -> b) on n rows costs F = 2nab forward, F for the weight gradient and F
    for the input gradient (none for a first layer whose input needs no gradient).
    D step: G forward on z; D forward on reals and fakes; R1's input gradient (F per layer,
    no weight gradients); its double backward (per layer, the gradient of the backward
    matmul w.r.t. W and w.r.t. its incoming gradient: 2F, the first layer 1F); the loss's
    backward on reals and fakes (weights + inputs, first layer weights only).
    G step: G forward, D forward, D backward inputs only (frozen), G backward (first layer
    weights only).
    """
    spec = spec_for("mlp")
    g = layer_sizes([spec.z_dim, *spec.g_hidden, 2])
    d = layer_sizes([2, *spec.d_hidden, 1])
    f = lambda layers: sum(2 * batch * a * b for a, b in layers)  # noqa: E731
    first = lambda layers: 2 * batch * layers[0][0] * layers[0][1]  # noqa: E731
    fg, fd = f(g), f(d)
    d_step = fg + 2 * fd + fd + (2 * fd - first(d)) + 2 * (2 * fd - first(d))
    g_step = fg + fd + fd + (2 * fg - first(g))
    return {"d_step": d_step, "g_step": g_step, "total": d_step + g_step}


def counted_flops(loop: HandLoop) -> float | None:
    """Matmul FLOPs of one hand-loop step as torch's FlopCounterMode counts them (a check);
    ``None`` where this torch's counter cannot follow R1's ``autograd.grad`` on a leaf."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        with FlopCounterMode(display=False) as counter:
            loop.train_step()
    except RuntimeError:
        return None
    return float(counter.get_total_flops())


def matmul_limit(m: int = BATCH, k: int = 128, n: int = 128, repeats: int = 5, flops: float = 4e9) -> float:
    """This core's GFLOP/s on ``torch.mm`` of (m, k) @ (k, n), by default the step's typical
    shape; the best of ``repeats`` timings of about ``flops`` FLOPs each (CPU time)."""
    a, b, out = torch.randn(m, k), torch.randn(k, n), torch.empty(m, n)
    iters = max(1, int(flops / (2 * m * k * n)))
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        for _ in range(iters):
            torch.mm(a, b, out=out)
        best = min(best, time.process_time() - c0)
    return 2 * m * k * n * iters / best / 1e9


# ---------------------------------------------------------------------------- --step
def step_section(args) -> list[dict]:
    torch.set_num_threads(1)
    contenders = [ModeGuardFit(), ModeGuardStep(), HandLoop(), HandLoop(share_forward=False), HandLoop(lean_adam=True)]
    if jax_available():
        contenders.append(JaxLoop(chunk=args.jax_chunk))
    else:
        print("note: jax is not installed (pip install -e .[bench]); the JAX anchor is skipped")
    for c in contenders:
        c.run(args.warmup)
    cpu: dict[str, list[float]] = {c.label: [] for c in contenders}
    for r in range(args.rounds):
        k = r % len(contenders)
        for c in contenders[k:] + contenders[:k]:
            cpu[c.label].append(c.run(args.steps) / args.steps)  # CPU s per step
        print(f"round {r + 1:>2} ms/step (CPU): "
              + "  ".join(f"{n} {v[-1] * 1e3:.2f}" for n, v in cpu.items()), flush=True)
    limit = matmul_limit()
    big = matmul_limit(1024, 1024, 1024, repeats=3)
    flops = step_matmul_flops()["total"]
    counted = counted_flops(contenders[2])
    rows = []
    for label, times in cpu.items():
        per_step = statistics.median(times)
        mine = statistics.median(h / m for m, h in zip(times, cpu["hand-written eager"]))
        rows.append({"contender": label, "ms_per_step_cpu": round(per_step * 1e3, 3),
                     "steps_per_cpu_s": round(1 / per_step, 1),
                     "speed_vs_hand": round(mine, 3),
                     "gflops": round(flops / per_step / 1e9, 2),
                     "fraction_of_limit": round(flops / per_step / 1e9 / limit, 3)})
    if "JAX jit+scan" in cpu:
        for row, label in zip(rows, cpu):
            row["speed_vs_jax"] = round(statistics.median(j / m for m, j in zip(cpu[label], cpu["JAX jit+scan"])), 3)
    notes = [f"recipe `{RECIPE}`, mlp, batch {BATCH}, lr {LR}, ring8, 1 thread; "
             f"{args.rounds} interleaved rounds x {args.steps} steps; speed = median per-round ratio "
             f"(> 1 is faster than the anchor)",
             f"matmul FLOPs per step (analytic): {flops / 1e6:.1f} M (torch FlopCounterMode on the hand "
             f"loop: {'n/a' if counted is None else f'{counted / 1e6:.1f} M'}); limit: torch.mm ({BATCH}x128 @ 128x128) "
             f"{limit:.1f} GFLOP/s on this core (1024^3: {big:.1f} GFLOP/s)"]
    write_table("step", rows, notes)
    return rows


# ---------------------------------------------------------------------------- --profile
def profile_section(args) -> None:
    """torch.profiler over ``--steps`` steps of ModeGuard's ``train_step`` and of the hand loop:
    operator calls per step and the operators with the largest self-CPU-time difference."""
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    tables = {}
    for contender in (ModeGuardStep(), HandLoop()):
        contender.run(args.warmup)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            contender.run(args.steps)
        tables[contender.label] = {e.key: (e.count / args.steps, e.self_cpu_time_total / args.steps)
                                   for e in prof.key_averages()}
    mg, hand = tables["modeguard train_step"], tables["hand-written eager"]
    diff = sorted(set(mg) | set(hand), key=lambda k: -(mg.get(k, (0, 0))[1] - hand.get(k, (0, 0))[1]))
    shown = diff[:args.top] + [k for k in diff[-5:] if k not in diff[:args.top]]  # and where the hand loop spends more
    rows = [{"op": k, "modeguard_calls": round(mg.get(k, (0, 0))[0], 1), "hand_calls": round(hand.get(k, (0, 0))[0], 1),
             "modeguard_us": round(mg.get(k, (0, 0))[1], 1), "hand_us": round(hand.get(k, (0, 0))[1], 1),
             "extra_us": round(mg.get(k, (0, 0))[1] - hand.get(k, (0, 0))[1], 1)} for k in shown]
    totals = [f"{label}: {sum(c for c, _ in t.values()):.0f} operator calls/step, "
              f"{sum(us for _, us in t.values()) / 1e3:.2f} ms self CPU/step under the profiler"
              for label, t in tables.items()]
    write_table("profile", rows, [f"torch.profiler, {args.steps} steps each, per-step figures; "
                                  f"extra_us = ModeGuard's self CPU time minus the hand loop's; the call "
                                  f"counts are exact, the times carry the profiler's own overhead", *totals])


# ---------------------------------------------------------------------------- --time-to-quality
def meets(data: str, result: dict) -> bool:
    """Whether an evaluation meets ``data``'s quality targets (see ``TARGETS``)."""
    modes, hq, kl = TARGETS[data]
    return result.get("modes_strict", 0) >= modes and result.get("hq_pct", 0) >= hq and result.get("rev_kl", 9) <= kl


class _StopRun(Exception):
    """Raised by the quality clock to end a run that met its targets."""


class QualityClock(Callback):
    """Evaluates the EMA generator every ``every`` steps; records the training CPU seconds
    (evaluations excluded) at the first evaluation meeting the targets, then stops the run."""

    def __init__(self, data: str, every: int, stop: bool = True, trace: bool = False):
        self.data, self.every, self.stop, self.trace = data, every, stop, trace
        self.evals: list[dict] = []
        self.hit: dict | None = None

    def on_fit_start(self, trainer):
        self.c0 = time.process_time()
        self.eval_cpu = 0.0

    def on_step_end(self, trainer):
        step = trainer.ctx.step
        if step % self.every and step != trainer.ctx.total_steps:
            return
        c = time.process_time()
        train_cpu = c - self.c0 - self.eval_cpu
        result = trainer.evaluate(prdc=False)
        self.eval_cpu += time.process_time() - c
        row = {"step": step, "cpu_s": train_cpu,
               **{k: result[k] for k in ("modes_strict", "hq_pct", "rev_kl")}, "counts": result["counts"]}
        self.evals.append(row)
        if self.trace:
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items() if k != "counts"},
                  flush=True)
        if self.hit is None and meets(self.data, result):
            self.hit = row
            if self.stop:
                raise _StopRun


def time_to_quality(data: str, seed: int, strategies, steps: int | None, evals: int, lr: float | None,
                    batch: int | None = None, stop: bool = True, trace: bool = False) -> dict:
    """One run of ``data`` / ``seed``: the first step and training CPU seconds at which the
    targets were met (``None`` when never), and the last evaluation."""
    torch.set_num_threads(1)
    extra = {} if batch is None else {"batch_size": batch}
    config = TrainConfig(data=data, strategies=strategies, steps=steps, seed=seed, device="cpu", threads=1,
                         progress=False, lr_g=lr, lr_d=lr, log_every=10**9, **extra)
    trainer = Trainer(config, run_dir=None)
    total = trainer.ctx.total_steps
    clock = QualityClock(data, max(1, total // evals), stop=stop, trace=trace)
    trainer.callbacks.append(clock)
    c0 = time.process_time()
    try:
        trainer.fit()
    except _StopRun:
        pass
    last = clock.evals[-1] if clock.evals else {}
    hit = clock.hit
    return {"data": data, "seed": seed, "total_steps": total, "passed": hit is not None,
            "step": hit["step"] if hit else None, "cpu_s": round(hit["cpu_s"], 2) if hit else None,
            "run_cpu_s": round(time.process_time() - c0 - clock.eval_cpu, 2),
            "last_modes": last.get("modes_strict"), "last_hq": round(last.get("hq_pct", 0), 2),
            "last_kl": round(last.get("rev_kl", float("nan")), 4), "last_counts": last.get("counts")}


def whole_process_cpu(argv: list[str]) -> float:
    """CPU seconds (user + system) of ``modeguard <argv>`` run to its end in a subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "modeguard", *argv, "--out", str(Path(tmp) / "run")],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def quality_section(args) -> list[dict]:
    rows = []
    for data in args.data:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            row = time_to_quality(data, seed, args.strategies, args.train_steps, args.evals, args.lr,
                                  args.batch, stop=not args.full, trace=args.trace)
            print({k: v for k, v in row.items() if k != "last_counts"}, flush=True)
            rows.append(row)
    summary = []
    for data in args.data:
        rs = [r for r in rows if r["data"] == data]
        ok = [r["cpu_s"] for r in rs if r["passed"]]
        summary.append({"data": data, "strategies": args.strategies, "steps": rs[0]["total_steps"],
                        "lr": args.lr, "batch": args.batch, "passed": f"{len(ok)}/{len(rs)}",
                        "cpu_s_median": round(statistics.median(ok), 1) if ok else None,
                        "cpu_s_max": round(max(ok), 1) if ok else None,
                        "full_run_cpu_s_median": round(statistics.median(r["run_cpu_s"] for r in rs), 1)})
    notes = [f"training CPU-s of the run until the EMA generator first met the targets "
             f"(evaluated every steps/{args.evals} steps; evaluation time excluded); 1 thread"]
    if args.whole_process:
        for data in args.data:
            secs = whole_process_cpu(["train", "--data", data])
            notes.append(f"whole process `modeguard train --data {data}`: {secs:.1f} CPU-s")
            print(notes[-1], flush=True)
    write_table(f"time-{args.tag}", summary, notes, detail=rows)
    return summary


# ---------------------------------------------------------------------------- --seeds-together
def alternating_rounds(contenders: dict, args) -> dict[str, list[float]]:
    """CPU-s per call of each ``name: callable`` in ``contenders``, per round: ``args.warmup``
    untimed calls each (first-step set-up, such as optimizer state, out of the timing), then
    ``args.rounds`` rounds of ``args.steps`` calls each, the order reversed every other round."""
    for run in contenders.values():
        for _ in range(args.warmup):
            run()
    cpu = {name: [] for name in contenders}
    for r in range(args.rounds):
        for name in (list(contenders) if r % 2 == 0 else list(reversed(contenders))):
            run, c0 = contenders[name], time.process_time()
            for _ in range(args.steps):
                run()
            cpu[name].append((time.process_time() - c0) / args.steps)
    return cpu


def seeds_together_section(args) -> None:
    """CPU-s per seed-step of ``--together`` seeds of the recipe trained as one stacked
    :class:`~modeguard.train.ensemble.Ensemble` against the same seeds each trained by its own
    :class:`Trainer` (what one process per seed computes, less each process's start-up), in
    interleaved rounds whose order alternates. Prints and saves ``speed-together``."""
    n, batch = args.together, args.batch or BATCH
    config = lambda seed=0: TrainConfig(data="ring8", strategies=RECIPE, model="mlp", batch_size=batch,  # noqa: E731
                                        lr_g=LR, lr_d=LR, steps=SCHEDULE_STEPS, seed=seed, progress=False)
    ok, reason = stackable(config())
    if not ok:
        print(f"seeds together: the recipe does not stack ({reason})")
        return
    ensemble = Ensemble(config(), list(range(n)))
    solos = [Trainer(config(seed)) for seed in range(n)]
    tuned_malloc = keep_freed_memory()  # what the trainers above set for this process
    contenders = {
        "one Trainer per seed": lambda: [t.train_step() for t in solos],
        f"{n} seeds stacked": ensemble.step,
    }
    per_seed_step = {name: [cpu / n for cpu in v] for name, v in alternating_rounds(contenders, args).items()}
    solo, stacked = per_seed_step["one Trainer per seed"], per_seed_step[f"{n} seeds stacked"]
    ratios = [a / b for a, b in zip(solo, stacked)]
    rows = [{"contender": name, "seeds": n, "ms_per_seed_step_median": round(1e3 * statistics.median(v), 3),
             "seed_steps_per_cpu_s": round(1 / statistics.median(v), 1)} for name, v in per_seed_step.items()]
    rows.append({"contender": "speed-up (per-seed throughput, stacked / solo)", "seeds": n,
                 "ms_per_seed_step_median": None, "seed_steps_per_cpu_s": round(statistics.median(ratios), 3)})
    notes = [f"recipe {RECIPE}, mlp, batch {batch}, ring8; {args.rounds} interleaved rounds of {args.steps} "
             f"steps, {torch.get_num_threads()} torch thread(s); CPU-s of this process (time.process_time)",
             f"per-round ratios: {', '.join(f'{x:.2f}' for x in ratios)}",
             "CPU allocator: " + ("glibc's thresholds raised (modeguard.allocator)" if tuned_malloc
                                  else f"as the system set it ({ENV}=system or not glibc)")]
    write_table(f"together-b{batch}" + ("" if tuned_malloc else "-system-malloc"), rows, notes)


# ---------------------------------------------------------------------------- --recipe-steps
def recipe_steps_section(args) -> None:
    """CPU-ms per training step of each ``--recipes`` entry on ``--data`` (everything else the
    data's defaults), in interleaved rounds whose order alternates. Prints and saves
    ``speed-recipes-<data>``."""
    data = args.data[0]
    trainers = {r: Trainer(TrainConfig(data=data, strategies=r, seed=0, progress=False), run_dir=None)
                for r in args.recipes}
    cpu = alternating_rounds({r: t.train_step for r, t in trainers.items()}, args)
    ms = {r: [1e3 * c for c in v] for r, v in cpu.items()}
    base = statistics.median(ms[args.recipes[0]])
    rows = [{"recipe": r, "ms_per_step_median": round(statistics.median(v), 2),
             "ratio_to_first": round(statistics.median(v) / base, 3)} for r, v in ms.items()]
    write_table(f"recipes-{data}", rows, [f"{data}, its default model, batch and lr; {args.rounds} interleaved "
                                          f"rounds of {args.steps} steps, {torch.get_num_threads()} torch "
                                          f"thread(s); CPU-s of this process (time.process_time)"])


# ---------------------------------------------------------------------------- output
def markdown(rows: list[dict]) -> str:
    """A Markdown table of ``rows`` (the keys of the first row are the columns)."""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_table(name: str, rows: list[dict], notes: list[str], detail: list[dict] | None = None) -> None:
    """Print ``rows`` as Markdown and write ``results/speed-<name>.md`` and ``.csv``
    (``detail`` rows, when given, go to the CSV instead of the summary)."""
    text = markdown(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    if detail:
        text += "\n" + markdown([{k: v for k, v in r.items() if k != "last_counts"} for r in detail]) + "\n"
    print(text)
    if not SAVE:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"speed-{name}.md").write_text(text)
    table = detail or rows
    with open(RESULTS / f"speed-{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0]))
        w.writeheader()
        w.writerows(table)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--step", action="store_true", help="time one step against the hand loop and JAX")
    p.add_argument("--time-to-quality", action="store_true", help="CPU-s per seed until the targets are met")
    p.add_argument("--seeds-together", action="store_true", help="N seeds stacked in one process against one Trainer per seed")
    p.add_argument("--recipe-steps", action="store_true", help="a step of each --recipes entry on --data, interleaved")
    p.add_argument("--recipes", nargs="+", default=["default"], help="recipes timed by --recipe-steps")
    p.add_argument("--together", type=int, default=8, help="seeds trained together by --seeds-together")
    p.add_argument("--profile", action="store_true", help="torch.profiler: ModeGuard's step against the hand loop")
    p.add_argument("--top", type=int, default=25, help="operators listed by --profile")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--steps", type=int, default=300, help="steps per contender per round")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--jax-chunk", type=int, default=100, help="steps per jitted lax.scan")
    p.add_argument("--data", nargs="+", default=["ring8"],
                   help=f"--time-to-quality: {' / '.join(sorted(TARGETS))}; --recipe-steps: any data name")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--strategies", default="default", help="recipe (default: the data kind's)")
    p.add_argument("--train-steps", type=int, default=None, help="steps per run (default: the data's)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--evals", type=int, default=20, help="evaluations per run")
    p.add_argument("--full", action="store_true", help="train to the end even after the targets are met")
    p.add_argument("--trace", action="store_true", help="print every evaluation")
    p.add_argument("--whole-process", action="store_true", help="also time `modeguard train --data D`")
    p.add_argument("--tag", default="default", help="names results/speed-time-<tag>.md")
    p.add_argument("--no-save", action="store_true", help="print the tables only (smoke runs)")
    args = p.parse_args(argv)
    global SAVE
    SAVE = not args.no_save
    if not (args.step or args.time_to_quality or args.seeds_together or args.profile or args.recipe_steps):
        args.step = True
    if args.step:
        step_section(args)
    if args.profile:
        profile_section(args)
    if args.time_to_quality:
        if unknown := sorted(set(args.data) - set(TARGETS)):
            p.error(f"--time-to-quality has targets for {', '.join(sorted(TARGETS))} only, not {', '.join(unknown)}")
        quality_section(args)
    if args.seeds_together:
        seeds_together_section(args)
    if args.recipe_steps:
        recipe_steps_section(args)


if __name__ == "__main__":
    main()
