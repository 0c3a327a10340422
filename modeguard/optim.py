"""Adam with the fused kernel and nothing else on its hot path.

``torch.optim.Adam(fused=True)`` runs one fused kernel per update, but its ``step`` first
wraps the call in a profiler range, walks the global and per-optimizer hook chains, rebuilds
the parameter, gradient and state lists and regroups them by device and dtype. On a small
GAN that Python costs as much as the kernel (about 25 µs of a 50 µs update on the ring8 MLP,
twice a training step). :class:`LeanAdam` is that optimizer, same class family, same state
and ``state_dict``, whose ``step`` calls the kernel directly when nothing needs the general
path; anything unusual (a closure, hooks, a gradient scaler, a parameter without a gradient
or without state yet, AMSGrad, a tensor lr, mixed devices or dtypes) takes
``torch.optim.Adam.step`` unchanged.
"""
from __future__ import annotations

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

#: group options under which Adam.step would not run the plain fused kernel
_SPECIAL_OPTIONS = ("amsgrad", "maximize", "capturable", "differentiable", "decoupled_weight_decay")


def _general_step():
    """``Adam.step`` as ``torch.optim`` calls it: wrapped with the profiler range and hook
    chains (the wrapper is installed on ``Adam`` when its first instance is built)."""
    step = torch.optim.Adam.step
    return step if getattr(step, "hooked", False) else torch.optim.Optimizer.profile_hook_step(step)


class LeanAdam(torch.optim.Adam):
    """``torch.optim.Adam(..., fused=True)`` whose plain updates skip ``Optimizer.step``'s
    per-call bookkeeping (same kernel, same arithmetic, same state)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), **options):
        """``torch.optim.Adam``'s arguments; ``fused`` is always on (``foreach`` is ignored)."""
        options.pop("foreach", None)
        options["fused"] = True
        super().__init__(params, lr=lr, betas=tuple(betas), **options)

    def _plain_lists(self):
        """Per group: (group, params, grads, exp_avgs, exp_avg_sqs, steps), or None where the
        general path is needed."""
        if (self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks or _global_optimizer_pre_hooks
                or _global_optimizer_post_hooks or getattr(self, "grad_scale", None) is not None
                or getattr(self, "found_inf", None) is not None):
            return None
        out = []
        state = self.state
        for group in self.param_groups:
            if isinstance(group["lr"], torch.Tensor) or any(group.get(k) for k in _SPECIAL_OPTIONS):
                return None
            params = group["params"]
            if not params:
                continue
            device, dtype = params[0].device, params[0].dtype
            grads, exp_avgs, exp_avg_sqs, steps = [], [], [], []
            for p in params:
                g, s = p.grad, state.get(p)
                # no gradient (Adam skips the parameter), no state yet (the general path
                # creates it) or a second device or dtype: the general path
                if g is None or not s or g.is_sparse or p.device != device or p.dtype != dtype:
                    return None
                grads.append(g)
                exp_avgs.append(s["exp_avg"])
                exp_avg_sqs.append(s["exp_avg_sq"])
                steps.append(s["step"])
            out.append((group, params, grads, exp_avgs, exp_avg_sqs, steps))
        return out

    def step(self, closure=None):
        """One Adam update; see the module docstring for when the general path runs."""
        lists = None if closure is not None else self._plain_lists()
        if lists is None:
            return _general_step()(self, closure)
        with torch.no_grad():
            for group, params, grads, exp_avgs, exp_avg_sqs, steps in lists:
                beta1, beta2 = group["betas"]
                torch._foreach_add_(steps, 1)
                torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                                   lr=group["lr"], beta1=float(beta1), beta2=float(beta2),
                                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                                   grad_scale=None, found_inf=None)
        return None

    # not wrapped by torch.optim's profiler hook: the general path above is
    step.hooked = True

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (``set_to_none``, the default) without the profiler range;
        zeroing them in place takes the general path."""
        if not set_to_none:
            return super().zero_grad(set_to_none=False)
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None
