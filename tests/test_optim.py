"""LeanAdam: the fused Adam kernel without Optimizer.step's bookkeeping, equal to torch's."""
import copy
import warnings

import pytest
import torch

from modeguard import optim
from modeguard.optim import LeanAdam


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1))


def _train(opt, net, steps=6, lr_every=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    for t in range(steps):
        if lr_every and t % lr_every == 0:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        x = torch.randn(32, 3, generator=g)
        opt.zero_grad(set_to_none=True)
        net(x).pow(2).mean().backward()
        opt.step()


@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.01, "eps": 1e-6}])
def test_updates_equal_torch_fused_adam_bit_for_bit(options):
    ours, theirs = _net(), _net()
    a = LeanAdam(ours.parameters(), lr=1e-2, betas=(0.5, 0.99), **options)
    b = torch.optim.Adam(theirs.parameters(), lr=1e-2, betas=(0.5, 0.99), fused=True, **options)
    _train(a, ours, lr_every=2)
    _train(b, theirs, lr_every=2)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(p, q)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(a.state[p][key], b.state[q][key])


def test_plain_updates_skip_the_general_path(monkeypatch):
    net = _net()
    opt = LeanAdam(net.parameters(), lr=1e-2)
    general = []
    real = optim._general_step
    monkeypatch.setattr(optim, "_general_step", lambda: (general.append(1), real())[1])
    _train(opt, net, steps=4)
    assert len(general) == 1  # the first update creates the state; the rest call the kernel


def test_a_parameter_without_gradient_is_left_alone_as_torch_does():
    net = _net()
    opt = LeanAdam(net.parameters(), lr=1e-2)
    _train(opt, net, steps=2)
    frozen = net[2].bias
    before, moments = frozen.detach().clone(), opt.state[frozen]["exp_avg"].clone()
    opt.zero_grad()
    net(torch.randn(8, 3)).sum().backward()
    frozen.grad = None
    opt.step()
    assert torch.equal(frozen, before) and torch.equal(opt.state[frozen]["exp_avg"], moments)
    assert not torch.equal(net[0].weight.grad, torch.zeros_like(net[0].weight))


def test_step_hooks_run_once_per_update():
    net = _net()
    opt = LeanAdam(net.parameters(), lr=1e-2)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.register_step_post_hook(lambda *a: calls.append("post"))
    _train(opt, net, steps=3)
    assert calls == ["pre", "post"] * 3


def test_closure_is_evaluated_and_its_loss_returned():
    net = _net()
    opt = LeanAdam(net.parameters(), lr=1e-2)
    x = torch.randn(4, 3)

    def closure():
        opt.zero_grad()
        loss = net(x).pow(2).mean()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert first is not None and first.ndim == 0
    assert float(opt.step(closure).detach()) < float(first.detach())


def test_state_dict_loads_into_torch_adam_and_back():
    ours, theirs = _net(), _net()
    a = LeanAdam(ours.parameters(), lr=1e-2)
    _train(a, ours, steps=3)
    theirs.load_state_dict(ours.state_dict())
    b = torch.optim.Adam(theirs.parameters(), lr=1e-2, fused=True)
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # a state_dict shares its tensors
    _train(a, ours, steps=3, seed=5)
    _train(b, theirs, steps=3, seed=5)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert torch.equal(p, q)
    c = LeanAdam(_net(3).parameters(), lr=1e-2)
    c.load_state_dict(copy.deepcopy(b.state_dict()))
    assert c.state_dict()["state"][0]["step"] == b.state_dict()["state"][0]["step"]


def test_zero_grad_in_place_keeps_zeroed_tensors():
    net = _net()
    opt = LeanAdam(net.parameters())
    net(torch.randn(4, 3)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in net.parameters())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_a_torch_lr_scheduler_drives_it_without_warnings():
    net = _net()
    opt = LeanAdam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 ** s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            _train(opt, net, steps=1)
            sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2 * 0.5 ** 3)
