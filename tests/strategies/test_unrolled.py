"""unrolled (Metz 2017): G's gradient is taken against D unrolled k steps ahead."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _g_grads(tiny_config, strategies):
    """G's gradients from one D step then one G step (same seed, same batches)."""
    t = Trainer(tiny_config(strategies=strategies))
    t.steps.d_step()
    d_before = [p.detach().clone() for p in t.ctx.D.parameters()]
    t.steps.g_step()
    for a, p in zip(d_before, t.ctx.D.parameters()):
        assert torch.equal(a, p)  # the unrolling never touches D's real weights
        assert p.requires_grad  # and D is trainable again after G's phase
    return [p.grad.clone() for p in t.ctx.G.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_zero_steps_equals_plain_gan(tiny_config):
    plain = _g_grads(tiny_config, "none")
    assert _same(_g_grads(tiny_config, "unrolled:steps=0"), plain)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_unrolling_changes_g_gradient_through_the_updates(optimizer, tiny_config):
    plain = _g_grads(tiny_config, "none")
    second = _g_grads(tiny_config, f"unrolled:steps=3:optimizer={optimizer}:lr=0.05")
    first = _g_grads(tiny_config, f"unrolled:steps=3:optimizer={optimizer}:lr=0.05:second_order=false")
    assert not _same(second, plain)
    # same batches, same unrolled D values: only the gradient through the updates differs
    assert not _same(second, first)
    assert all(torch.isfinite(g).all() for g in second)


def test_sgd_unroll_matches_a_hand_step(tiny_config):
    t = Trainer(tiny_config(strategies="unrolled:steps=1:optimizer=sgd:lr=0.1"))
    t.steps.d_step()
    strategy = t.ctx.strategies[0]
    state = t.ctx.rng.get_state()
    params = strategy.unroll(t.ctx)
    # redo the same step by hand on the same batch
    t.ctx.rng.set_state(state)
    real = t.ctx.sample_real(32)
    fake = t.ctx.G(t.ctx.sample_z(32))
    loss = t.ctx.loss.d(t.ctx.D(real), t.ctx.D(fake))
    names, ps = zip(*t.ctx.D.named_parameters())
    grads = torch.autograd.grad(loss, ps)
    for name, p, g in zip(names, ps, grads):
        assert torch.allclose(params[name], p - 0.1 * g, atol=1e-6), name


def test_adam_unroll_uses_d_moments(tiny_config):
    t = Trainer(tiny_config(strategies="unrolled:steps=1:lr=0.01"))
    t.steps.d_step()
    strategy = t.ctx.strategies[0]
    state = t.ctx.rng.get_state()
    params = strategy.unroll(t.ctx)
    t.ctx.rng.set_state(state)
    real, fake = t.ctx.sample_real(32), t.ctx.G(t.ctx.sample_z(32))
    loss = t.ctx.loss.d(t.ctx.D(real), t.ctx.D(fake))
    names, ps = zip(*t.ctx.D.named_parameters())
    grads = torch.autograd.grad(loss, ps)
    b1, b2 = 0.5, 0.999
    for name, p, g in zip(names, ps, grads):
        st = t.ctx.opt_d.state[p]
        m = b1 * st["exp_avg"] + (1 - b1) * g
        v = b2 * st["exp_avg_sq"] + (1 - b2) * g * g
        step = float(st["step"]) + 1
        expected = p - 0.01 * (m / (1 - b1**step)) / torch.sqrt(v / (1 - b2**step) + 1e-16)
        assert torch.allclose(params[name], expected, atol=1e-6), name


def test_default_lr_is_the_runs_lr_d(tiny_config):
    t = Trainer(tiny_config(strategies="unrolled:steps=1:optimizer=sgd", lr_d=0.25))
    t.steps.d_step()
    state = t.ctx.rng.get_state()
    a = t.ctx.strategies[0].unroll(t.ctx)
    t.ctx.rng.set_state(state)
    t.ctx.strategies[0].opts["lr"] = 0.25
    b = t.ctx.strategies[0].unroll(t.ctx)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("spec, match", [
    ("unrolled:k=5", "unknown option 'k'"),
    ("unrolled:steps=many", "option 'steps' must be int"),
    ("unrolled:steps=-1", "option 'steps' must be >= 0"),
    ("unrolled:second_order=maybe", "option 'second_order' must be bool"),
    ("unrolled:optimizer=rmsprop", "option 'optimizer' must be one of"),
    ("unrolled,feature-matching:replace=true", "feature-matching:replace=true"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match="unrolled") as e:
        Trainer(tiny_config(strategies=spec))
    assert match in str(e.value)
