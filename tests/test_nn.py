"""modeguard.nn: the batch-level layers a user puts into their own D."""
import pytest
import torch

from modeguard.nn import MinibatchDiscrimination, MinibatchStdDev
from modeguard.remedies import r1_penalty


def test_minibatch_stddev_appends_the_groups_mean_std():
    x = torch.randn(8, 5)
    out = MinibatchStdDev(group=4)(x)
    assert out.shape == (8, 6) and torch.equal(out[:, :5], x)
    for g in range(2):
        rows = x[4 * g: 4 * g + 4]
        expected = rows.std(0, unbiased=False).mean()
        assert torch.allclose(out[4 * g: 4 * g + 4, 5], expected.expand(4), atol=1e-5)


def test_minibatch_stddev_whole_batch_and_images():
    x = torch.randn(6, 2, 3, 3)
    out = MinibatchStdDev(group=0)(x)
    assert out.shape == (6, 19)
    assert torch.allclose(out[:, -1], x.reshape(6, -1).std(0, unbiased=False).mean().expand(6), atol=1e-5)
    assert MinibatchStdDev(group=4)(torch.randn(6, 3)).shape == (6, 4)  # 4 does not divide 6: one group


def test_minibatch_stddev_sees_a_collapsed_batch():
    layer = MinibatchStdDev(group=0)
    collapsed = torch.ones(8, 3) + 1e-4 * torch.randn(8, 3)
    assert float(layer(collapsed)[0, -1]) < 1e-3 < float(layer(torch.randn(8, 3))[0, -1])


def test_minibatch_discrimination_closeness():
    layer = MinibatchDiscrimination(4, kernels=3, dims=2)
    same = torch.ones(5, 4)
    out = layer(same)
    assert out.shape == (5, 7)
    assert torch.allclose(out[:, 4:], torch.full((5, 3), 4.0))  # n - 1 identical neighbours, each exp(0)
    spread = layer(100 * torch.randn(5, 4))
    assert float(spread[:, 4:].max().detach()) < 4.0


def test_minibatch_discrimination_trains_and_takes_a_double_backward():
    layer = MinibatchDiscrimination(2, kernels=4, dims=3)
    head = torch.nn.Linear(6, 1)
    d = torch.nn.Sequential(layer, head)
    penalty = r1_penalty(d, torch.randn(8, 2))
    penalty.backward()
    assert layer.T.grad is not None and torch.isfinite(layer.T.grad).all()
    assert "kernels=4" in repr(layer)
