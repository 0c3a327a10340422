"""One training step as a phase table built once: D step(s), then a G step.

Why alternating steps with two optimizers: the article's code adds D's and G's losses and
takes one joint gradient step. Then G's parameters also receive the gradient of D's loss
(which G's output influences), so G is partly trained to help D — and both networks share
one learning-rate schedule and moment estimates. Separate D and G steps with separate
optimizers are the formulation of Goodfellow et al. (2014) that all later work builds on.

The table holds, per hook, only the strategies that override it (most override one or two
hooks), and G's step is wrapped by the ``g_step`` hooks once, not every step. Nothing in a
step reads a tensor back to the host: losses stay on the device, and a non-finite loss
stays in a device-side running sum that the loop reads at log and checkpoint steps.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import remedies
from ..strategies import Strategy
from .context import TrainContext
from .objective import Batch


class frozen:
    """Within the block, ``params`` take no gradient (D in G's phase: no weight gradients
    nobody reads); they are trainable again after it, also after an error. A plain class,
    not a generator-based context manager: it runs every step."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = params

    def __enter__(self) -> None:
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for p in self.params:
            p.requires_grad_(True)


def _overriding(strategies: list[Strategy], hook: str) -> list[Strategy]:
    """The strategies whose ``hook`` is not the base class's no-op."""
    return [s for s in strategies if getattr(type(s), hook) is not getattr(Strategy, hook)]


@dataclass
class PhaseTable:
    """The bound strategy hooks of each phase of a step, in the user's order."""

    d_inputs: list[Callable] = field(default_factory=list)
    d_loss: list[Callable] = field(default_factory=list)
    real_grad: list[Callable] = field(default_factory=list)
    g_loss: list[Callable] = field(default_factory=list)
    g_step: list[Strategy] = field(default_factory=list)
    after_step: list[Callable] = field(default_factory=list)

    @classmethod
    def build(cls, strategies: list[Strategy]) -> "PhaseTable":
        """The table for ``strategies`` (order kept)."""
        return cls(
            d_inputs=[s.d_inputs for s in _overriding(strategies, "d_inputs")],
            d_loss=[s.d_loss for s in _overriding(strategies, "d_loss")],
            real_grad=[s.wants_real_grad for s in _overriding(strategies, "wants_real_grad")],
            g_loss=[s.g_loss for s in _overriding(strategies, "g_loss")],
            g_step=_overriding(strategies, "g_step"),
            after_step=[s.after_step for s in _overriding(strategies, "after_step")],
        )


class Step:
    """Runs training steps on a :class:`TrainContext` whose models and optimizers are built.

    ``step()`` trains ``n_critic`` D steps and one G step and advances ``ctx.step``.
    ``losses`` holds the last ``(loss_d, loss_g)`` as 0-d device tensors; :meth:`diverged`
    says whether any loss was NaN/inf since :meth:`clear_flag` (the step itself only adds
    the losses to a device-side sum).
    """

    def __init__(self, ctx: TrainContext):
        self.ctx = ctx
        self.table = PhaseTable.build(ctx.strategies)
        # D is not trained in G's phase; freezing its grads there saves the backward work
        self._d_trainable = [p for p in ctx.D.parameters() if p.requires_grad]
        g_phase: Callable[[], torch.Tensor] = self._g_phase
        for s in reversed(self.table.g_step):
            g_phase = functools.partial(s.g_step, ctx, g_phase)
        self._g_wrapped = g_phase
        self.losses: tuple[torch.Tensor, torch.Tensor] | None = None
        # the losses summed since the last check: NaN/inf in any step stays NaN/inf in the sum
        self._loss_sum = torch.zeros((), device=ctx.device)

    # ------------------------------------------------------------------ phases
    def _phase(self, phase: str, real: torch.Tensor, fake: torch.Tensor, optimizer) -> Batch:
        """One optimisation step of D (``"d"``) or G (``"g"``): strategies transform D's
        inputs, the objective gives the adversarial loss, strategies add their terms."""
        ctx, table = self.ctx, self.table
        batch = Batch(phase, real, fake, real, fake)
        with ctx.autocast():
            for hook in table.d_inputs:
                batch.real_in, batch.fake_in = hook(ctx, batch.real_in, batch.fake_in)
            if phase == "d" and any(wants(ctx) for wants in table.real_grad):
                batch.real_in = batch.real_in.detach().requires_grad_(True)  # one forward for loss and R1
            if phase == "d":
                loss = ctx.objective.d_loss(ctx, batch)
                extras = [hook(ctx, batch) for hook in table.d_loss]
            else:
                loss = ctx.objective.g_loss(ctx, batch)
                extras = [hook(ctx, batch) for hook in table.g_loss]
            for extra in extras:
                if extra is not None:
                    loss = loss + extra
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if ctx.dist is not None:  # data-parallel: every rank steps with the averaged gradients
            ctx.dist.average_grads(optimizer)
        optimizer.step()
        batch.loss = loss.detach()
        return batch

    def d_step(self) -> torch.Tensor:
        """One D step on a fresh real batch and fakes of the current G; returns D's loss."""
        ctx = self.ctx
        n = ctx.config.batch_size
        real = ctx.sample_real(n)
        with torch.no_grad():
            fake = ctx.G(ctx.sample_z(n))
        ctx.last_d_batch = self._phase("d", real, fake, ctx.opt_d)
        return ctx.last_d_batch.loss

    def _g_phase(self) -> torch.Tensor:
        ctx = self.ctx
        fake = ctx.G(ctx.sample_z(ctx.config.batch_size))
        ctx.last_g_batch = self._phase("g", ctx.last_d_batch.real, fake, ctx.opt_g)
        return ctx.last_g_batch.loss

    def g_step(self) -> torch.Tensor:
        """One G step (wrapped by the strategies' ``g_step`` hooks); returns G's loss."""
        with frozen(self._d_trainable):
            return self._g_wrapped()

    def step(self) -> None:
        """``n_critic`` D steps, one G step, then the strategies' ``after_step`` hooks."""
        ctx = self.ctx
        for _ in range(ctx.config.n_critic):
            loss_d = self.d_step()
        loss_g = self.g_step()
        ctx.step += 1
        self.losses = (loss_d, loss_g)
        self._loss_sum.add_(loss_d).add_(loss_g)
        for hook in self.table.after_step:
            hook(ctx)

    # ------------------------------------------------------------------ readings
    def diverged(self) -> bool:
        """True when a loss was non-finite since the last :meth:`clear_flag` (reads one number
        back from the device)."""
        return not bool(torch.isfinite(self._loss_sum))

    def clear_flag(self) -> None:
        """Forget earlier non-finite losses (after a rollback)."""
        self._loss_sum.zero_()

    def d_accuracy(self) -> tuple[float, float] | None:
        """D's accuracy on the last D batch's reals and fakes as floats, or None before the
        first step (reads two numbers back from the device)."""
        acc = d_accuracy(self.ctx)
        return None if acc is None else (float(acc[0]), float(acc[1]))


def d_accuracy(ctx: TrainContext) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(accuracy on reals, accuracy on fakes)`` of D on ``ctx.last_d_batch``: 0-d device
    tensors in [0, 1], by :func:`modeguard.remedies.d_accuracy` (the one definition, which
    adaptive-lr's controller uses too).

    A real counts as recognised where the objective's ``real_score`` is > 0, a fake where it
    is <= 0. Returns None before the first D step (or when the objective kept no outputs).
    """
    b = ctx.last_d_batch
    if b is None or b.d_real is None or b.d_fake is None:
        return None
    score = ctx.objective.real_score
    return remedies.d_accuracy(score(b.d_real.detach()), score(b.d_fake.detach()))
