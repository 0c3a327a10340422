"""minibatch-stddev: the extra feature against a hand computation."""
import numpy as np
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.nn import MinibatchStdDev
from modeguard.train import Trainer


def _hand_std_mean(rows: np.ndarray) -> float:
    mean = rows.mean(0)
    std = np.sqrt(((rows - mean) ** 2).mean(0) + 1e-8)
    return float(std.mean())


@pytest.mark.parametrize("group", [4, 2, 0])
def test_extra_feature_is_mean_group_std(group):
    x = torch.randn(8, 3, dtype=torch.float64)
    out = MinibatchStdDev(group)(x)
    assert out.shape == (8, 4)
    assert torch.equal(out[:, :3], x)
    g = group or 8
    xs = x.numpy()
    for i in range(8):
        start = (i // g) * g
        assert out[i, 3].item() == pytest.approx(_hand_std_mean(xs[start:start + g]), rel=1e-10)


def test_identical_samples_give_zero_spread():
    out = MinibatchStdDev(0)(torch.ones(6, 5))
    assert torch.allclose(out[:, 5], torch.full((6,), 1e-4))  # sqrt(0 + 1e-8)


def test_group_not_dividing_batch_uses_whole_batch():
    x = torch.randn(6, 2, dtype=torch.float64)
    out = MinibatchStdDev(4)(x)
    assert torch.allclose(out[:, 2], torch.full((6,), _hand_std_mean(x.numpy()), dtype=torch.float64))


def test_d_head_input_grows_by_one(tiny_config):
    plain = Trainer(tiny_config())
    t = Trainer(tiny_config(strategies="minibatch-stddev"))
    assert t.ctx.D.head.in_features == plain.ctx.D.head.in_features + 1
    assert any(isinstance(m, MinibatchStdDev) for m in t.ctx.D.pre_head)
    t.fit()


@pytest.mark.parametrize("spec, kw, match", [
    ("minibatch-stddev:groups=4", {}, "unknown option 'groups'"),
    ("minibatch-stddev:group=four", {}, "option 'group' must be int"),
    ("minibatch-stddev:group=-1", {}, "option 'group' must be >= 0"),
    ("minibatch-stddev:group=3", {"batch_size": 32}, "not divisible by option group=3"),
    ("pacgan:m=2,minibatch-stddev:group=0", {"batch_size": 2}, "at least 2 samples"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="minibatch-stddev") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)
