"""minibatch-disc: closeness features against a hand computation."""
import math

import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.nn import MinibatchDiscrimination
from modeguard.train import Trainer


def test_closeness_matches_hand_computation():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(3, kernels=2, dims=2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    out = layer(x)
    assert out.shape == (4, 5) and torch.equal(out[:, :3], x)
    T = layer.T.detach().numpy()
    xs = x.numpy()
    for i in range(4):
        for b in range(2):
            total = 0.0
            for j in range(4):
                if j == i:
                    continue
                l1 = sum(abs(sum((xs[i, f] - xs[j, f]) * T[f, b, c] for f in range(3))) for c in range(2))
                total += math.exp(-l1)
            assert out[i, 3 + b].item() == pytest.approx(total, rel=1e-10)


def test_identical_samples_are_maximally_close():
    layer = MinibatchDiscrimination(2, kernels=3, dims=2)
    out = layer(torch.ones(5, 2))
    assert torch.allclose(out[:, 2:], torch.full((5, 3), 4.0))  # 4 others, exp(0) each


def test_d_head_input_grows_by_kernels_and_t_is_trained(tiny_config):
    plain = Trainer(tiny_config())
    t = Trainer(tiny_config(strategies="minibatch-disc:kernels=5:dims=3"))
    assert t.ctx.D.head.in_features == plain.ctx.D.head.in_features + 5
    layer = next(m for m in t.ctx.D.pre_head if isinstance(m, MinibatchDiscrimination))
    assert layer.T.shape == (16, 5, 3)
    before = layer.T.detach().clone()
    t.fit()
    assert not torch.equal(before, layer.T)  # T is one of D's trained parameters


@pytest.mark.parametrize("spec, kw, match", [
    ("minibatch-disc:b=4", {}, "unknown option 'b'"),
    ("minibatch-disc:kernels=lots", {}, "option 'kernels' must be int"),
    ("minibatch-disc:kernels=0", {}, "option 'kernels' must be >= 1"),
    ("minibatch-disc:dims=0", {}, "option 'dims' must be >= 1"),
    ("pacgan:m=2,minibatch-disc", {"batch_size": 2}, "at least 2 samples"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="minibatch-disc") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)
