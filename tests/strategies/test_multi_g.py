"""multi-g (MAD-GAN): K generators, a (K+1)-way D, and samples from every generator."""
import pytest
import torch
import torch.nn.functional as F

from modeguard.errors import ConfigError
from modeguard.models import MultiGenerator
from modeguard.strategies.multi_g import MADObjective
from modeguard.train import Trainer
from modeguard.train.objective import Batch


def test_builds_k_generators_and_k_plus_1_way_d(tiny_config):
    t = Trainer(tiny_config(strategies="multi-g:k=4"))
    assert isinstance(t.ctx.G, MultiGenerator) and len(t.ctx.G.generators) == 4
    assert t.ctx.D(torch.randn(6, 2)).shape == (6, 5)


def test_d_loss_is_cross_entropy_with_generator_labels(tiny_config):
    t = Trainer(tiny_config(strategies="multi-g:k=4"))
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    b = Batch("d", real, fake, real, fake)
    got = t.ctx.objective.d_loss(t.ctx, b)
    labels = torch.arange(4).repeat_interleave(8)  # 32 samples, 4 consecutive chunks
    expected = (F.cross_entropy(t.ctx.D(real), torch.full((32,), 4))
                + F.cross_entropy(t.ctx.D(fake), labels))
    assert torch.allclose(got, expected)
    # by hand for one fake row of generator 2: -log softmax(D(x))[2]
    row = t.ctx.D(fake[20:21])[0]
    assert torch.allclose(F.cross_entropy(row[None], torch.tensor([2])), -(row[2] - row.exp().sum().log()))


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_g_loss_targets_real_class(loss, tiny_config):
    t = Trainer(tiny_config(strategies="multi-g:k=2", loss=loss))
    fake = torch.randn(32, 2)
    b = Batch("g", fake, fake, fake, fake)
    got = t.ctx.objective.g_loss(t.ctx, b)
    p_real = torch.softmax(t.ctx.D(fake), 1)[:, 2]
    expected = -torch.log(p_real).mean() if loss == "ns" else torch.log(1 - p_real).mean()
    assert torch.allclose(got, expected, atol=1e-6)


def test_real_score_sign():
    obj = MADObjective("ns", 2)
    out = torch.tensor([[0.0, 0.0, 3.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    s = obj.real_score(out)
    assert s[0] > 0 and s[1] < 0 and s[2] < 0  # uniform: p_real = 1/3 < 1/2
    p = torch.softmax(out, 1)[:, 2]
    assert torch.allclose(s, torch.log(p / (1 - p)))


def test_eval_samples_come_from_all_generators(tiny_config):
    t = Trainer(tiny_config(strategies="multi-g:k=4"))
    t.fit()
    n = 40
    samples = torch.as_tensor(t.sample(n, seed=3), dtype=torch.float32)
    z = torch.randn(n, t.ctx.spec.z_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        by_generator = [g(c) for g, c in zip(t.ctx.G.generators, z.tensor_split(4))]
        others = t.ctx.G.generators[0](z[10:20])
    assert torch.allclose(samples, torch.cat(by_generator), atol=1e-6)
    assert not torch.allclose(samples[10:20], others)  # chunk 1 really is generator 1's
    assert t.ctx.G.labels(n).tolist() == [0] * 10 + [1] * 10 + [2] * 10 + [3] * 10


def test_with_ema_samples_from_the_averaged_generators(tiny_config):
    t = Trainer(tiny_config(strategies="multi-g:k=2,ema:beta=0.5"))
    t.fit()
    G = t.eval_generator()
    assert isinstance(G, MultiGenerator) and G is not t.ctx.G and len(G.generators) == 2


@pytest.mark.parametrize("spec, kw, match", [
    ("multi-g:gens=3", {}, "unknown option 'gens'"),
    ("multi-g:k=2.5", {}, "option 'k' must be int"),
    ("multi-g:k=1", {}, "option 'k' must be >= 2"),
    ("multi-g", {"loss": "wgan"}, "loss 'wgan'"),
    ("multi-g", {"loss": "hinge"}, "loss 'hinge'"),
    ("multi-g:k=3", {"batch_size": 32}, "batch_size 32 must be divisible by option k=3"),
    ("multi-g,multi-d", {}, "cannot be combined with 'multi-d'"),
    ("multi-g:k=4,pacgan:m=4", {"batch_size": 24}, "divisible by the packing degree 4"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="multi-g") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)
