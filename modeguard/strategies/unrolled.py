"""Unrolled GAN (Metz et al. 2017): G trains against D as it will be k steps from now.

Before G's step, a functional copy of D takes ``steps`` differentiable optimisation steps on
fresh batches; G's loss is then taken against that unrolled D. With ``second_order`` the
gradient flows back through the unrolled updates, so G sees how D would react to its move
and gains nothing by hopping to the mode D currently neglects. D's real weights are not
changed. ``optimizer=adam`` unrolls Adam from D's current moment estimates (Metz's setup);
``sgd`` unrolls plain gradient descent. The unrolled D minimises the adversarial loss only:
other strategies' extra D terms (R1, GP) are not unrolled, as some of them count their calls.
"""
from __future__ import annotations

import dataclasses

import torch
from torch.func import functional_call

from ..errors import ConfigError
from ._listing import listed
from .base import Option, Strategy, register


def _adam_moments(opt, p: torch.Tensor):
    """(exp_avg, exp_avg_sq, step) of ``p`` in ``opt``, zeros when it has none (not Adam)."""
    state = opt.state.get(p, {}) if opt is not None else {}
    if "exp_avg" in state and "exp_avg_sq" in state:
        return state["exp_avg"].detach(), state["exp_avg_sq"].detach(), float(state.get("step", 0))
    return torch.zeros_like(p), torch.zeros_like(p), 0.0


@register
class Unrolled(Strategy):
    """Wraps G's step in an unrolled copy of D (``torch.func.functional_call``); works on any D."""

    double_backward = True
    name = "unrolled"
    summary = "G trains against D unrolled k optimisation steps ahead (Metz 2017)"
    remedies = (7,)
    options = {
        "steps": Option(int, 5, "unrolled D steps per G step (0 = plain GAN)", low=0, high=100),
        "lr": Option(float, None, "unrolled step size (default: D's current learning rate, i.e. lr_d "
                     "after schedules)", low=0.0),
        "optimizer": Option(str, "adam", "unrolled update rule: adam (D's moments) or sgd",
                            choices=("adam", "sgd")),
        "second_order": Option(bool, True, "backpropagate through the unrolled updates "
                               "(false: detach them, first-order approximation)"),
    }

    def validate(self, config):
        fm = listed(config).get("feature-matching")
        if fm is not None and fm.opts.get("replace"):
            raise ConfigError("strategy 'unrolled' has no effect with 'feature-matching:replace=true' "
                              "(G's loss then never reads D's output)")

    # ---- the unrolled discriminator ----
    def _d_loss(self, ctx, params: dict) -> torch.Tensor:
        n = ctx.config.batch_size
        real = ctx.sample_real(n)
        with torch.set_grad_enabled(self.second_order):
            fake = ctx.G(ctx.sample_z(n))
        # a fresh batch of the trainer's own Batch type (D's phase always ran before G's), built
        # from the last one so that strategies stay free of imports from the trainer
        batch = dataclasses.replace(ctx.last_d_batch, phase="unroll", real=real, fake=fake, real_in=real,
                                    fake_in=fake, d_real=None, d_fake=None, loss=None)
        for s in ctx.strategies:
            batch.real_in, batch.fake_in = s.d_inputs(ctx, batch.real_in, batch.fake_in)
        with ctx.use_discriminator(lambda x: functional_call(ctx.D, params, (x,))):
            return ctx.objective.d_loss(ctx, batch)

    def unroll(self, ctx) -> dict:
        """D's parameters (name -> tensor) after ``steps`` differentiable updates on fresh
        batches; D's own weights are left unchanged."""
        trained = {id(p) for g in ctx.opt_d.param_groups for p in g["params"]}
        params = {}
        for name, p in ctx.D.named_parameters():
            params[name] = p.detach().clone().requires_grad_(id(p) in trained)
        names = [k for k, p in ctx.D.named_parameters() if id(p) in trained]
        if not names or self.steps == 0:
            return params
        group = ctx.opt_d.param_groups[0]
        lr = self.lr if self.lr is not None else group.get("lr", ctx.config.lr_d)
        beta1, beta2 = group.get("betas", (ctx.config.beta1, ctx.config.beta2))
        eps = group.get("eps", 1e-8)
        named = dict(ctx.D.named_parameters())
        moments = {k: _adam_moments(ctx.opt_d, named[k]) for k in names} if self.optimizer == "adam" else {}
        for _ in range(self.steps):
            loss = self._d_loss(ctx, params)
            grads = torch.autograd.grad(loss, [params[k] for k in names], create_graph=self.second_order,
                                        allow_unused=True)
            for k, g in zip(names, grads):
                if g is None:
                    continue
                if not self.second_order:
                    g = g.detach()
                if self.optimizer == "adam":
                    m, v, t = moments[k]
                    m, v, t = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g, t + 1
                    moments[k] = (m, v, t)
                    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
                    # eps inside the root keeps its derivative finite where v is 0
                    update = m_hat / torch.sqrt(v_hat + eps * eps)
                else:
                    update = g
                params[k] = params[k] - lr * update
        if not self.second_order:
            params = {k: p.detach() for k, p in params.items()}
        return params

    def g_step(self, ctx, step_fn):
        params = self.unroll(ctx)
        with ctx.use_discriminator(lambda x: functional_call(ctx.D, params, (x,))):
            return step_fn()
