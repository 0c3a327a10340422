"""Trainer overhead: ModeGuard's steps/s against a minimal hand-written PyTorch loop.

Both train the same models (``--model mlp`` on ring8), batch 256, ``Adam(fused=True)``
(lr 1e-4, betas 0.5/0.999), the ns loss, one D step then one G step, drawing data and
latents the same way; one torch thread. Repeats are interleaved (the order rotates each
round) so that load from other processes hits every contender alike.

Two hand-written loops are timed: ``minimal`` is the textbook loop; ``minimal+frozen-D``
also switches off D's parameter gradients during the G step, as the trainer does, so it
does the same arithmetic as the trainer. The ratio against it is the trainer's overhead.

    python benchmarks/overhead.py [--steps 1000] [--repeats 10]

On a shared machine the wall clock is noisy; the CPU-time rates (this process only, one
thread) are the steadier measure of the work each loop does per step.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from modeguard.config import TrainConfig
from modeguard.data import resolve_data
from modeguard.models import build_models, spec_for
from modeguard.train import Callback, Trainer

BATCH = 256
LR, BETAS = 1e-4, (0.5, 0.999)


class HandLoop:
    """The loop a person writes by hand: D step, then G step, nothing else."""

    def __init__(self, freeze_d: bool, seed: int = 0):
        torch.manual_seed(seed)
        self.spec = spec_for("mlp")
        self.data = resolve_data("ring8")
        self.G, self.D = build_models(self.spec, self.data.shape)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS, fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS, fused=True)
        self.rng = torch.Generator().manual_seed(seed)
        self.freeze_d = freeze_d
        self.d_params = list(self.D.parameters())

    def run(self, steps: int) -> tuple[float, float]:
        """Train ``steps`` steps; return (wall seconds, CPU seconds of this process)."""
        G, D, opt_g, opt_d, rng, n, z_dim = self.G, self.D, self.opt_g, self.opt_d, self.rng, BATCH, self.spec.z_dim
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            real = self.data.sample(n, rng)
            with torch.no_grad():
                fake = G(torch.randn(n, z_dim, generator=rng))
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            if self.freeze_d:
                for p in self.d_params:
                    p.requires_grad_(False)
            loss_g = F.softplus(-D(G(torch.randn(n, z_dim, generator=rng)))).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if self.freeze_d:
                for p in self.d_params:
                    p.requires_grad_(True)
        return time.perf_counter() - t0, time.process_time() - c0


class _Clock(Callback):
    """Times the training loop only (not fit's final evaluation)."""

    def on_fit_start(self, trainer):
        self.t0, self.c0 = time.perf_counter(), time.process_time()

    def on_step_end(self, trainer):
        self.t1, self.c1 = time.perf_counter(), time.process_time()


class ModeGuardLoop:
    def __init__(self, seed: int = 0):
        config = TrainConfig(data="ring8", model="mlp", loss="ns", strategies="none", batch_size=BATCH,
                             lr_g=LR, lr_d=LR, beta1=BETAS[0], beta2=BETAS[1], seed=seed, device="cpu",
                             threads=1, progress=False, steps=10**9)
        self.clock = _Clock()
        self.trainer = Trainer(config, run_dir=None, callbacks=[self.clock])
        # the final evaluation is not part of the step rate being compared
        self.trainer.evaluate = lambda *a, **k: {}

    def run(self, steps: int) -> tuple[float, float]:
        self.trainer.fit(self.trainer.ctx.step + steps)
        return self.clock.t1 - self.clock.t0, self.clock.c1 - self.clock.c0


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000, help="steps per timed repeat")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=200)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    contenders = {"modeguard": ModeGuardLoop(), "minimal": HandLoop(freeze_d=False),
                  "minimal+frozen-D": HandLoop(freeze_d=True)}
    for c in contenders.values():
        c.run(args.warmup)
    names = list(contenders)
    wall: dict[str, list[float]] = {n: [] for n in names}  # steps/s by the wall clock
    cpu: dict[str, list[float]] = {n: [] for n in names}  # steps/s by this process's CPU time
    for r in range(args.repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            w, c = contenders[name].run(args.steps)
            wall[name].append(args.steps / w)
            cpu[name].append(args.steps / c)
        print(f"round {r + 1:>2} steps/s (wall): " + "  ".join(f"{n} {wall[n][-1]:.0f}" for n in names), flush=True)

    print(f"\nsteps/s, median of {args.repeats} x {args.steps} steps (batch {BATCH}, 1 thread):")
    print(f"  {'':<18} {'wall':>7} {'CPU':>7}")
    for n in names:
        print(f"  {n:<18} {statistics.median(wall[n]):7.1f} {statistics.median(cpu[n]):7.1f}")
    # a ratio per round cancels load that changes between rounds; CPU time also ignores
    # time spent waiting for the cores other processes hold
    for base in ("minimal+frozen-D", "minimal"):
        r_wall = statistics.median(m / b for m, b in zip(wall["modeguard"], wall[base]))
        r_cpu = statistics.median(m / b for m, b in zip(cpu["modeguard"], cpu[base]))
        print(f"ratio modeguard / {base:<18} wall {r_wall:.3f}   CPU {r_cpu:.3f}   (median of per-round ratios)")


if __name__ == "__main__":
    main()
