"""multi-d (GMAN): K discriminators, D's loss summed, G's loss aggregated."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.losses import get_loss
from modeguard.models import MultiDiscriminator
from modeguard.strategies.multi_d import MultiDObjective, aggregate_losses
from modeguard.train import Trainer
from modeguard.train.objective import Batch

from .logged import last_metrics


def test_builds_k_discriminators_with_one_column_each(tiny_config):
    t = Trainer(tiny_config(strategies="multi-d:k=4"))
    assert isinstance(t.ctx.D, MultiDiscriminator)
    assert len(t.ctx.D.discriminators) == 4
    assert t.ctx.D(torch.randn(5, 2)).shape == (5, 4)
    # independently initialised critics
    w = [d.head.weight for d in t.ctx.D.discriminators]
    assert not torch.equal(w[0], w[1])


def test_d_loss_is_sum_of_per_discriminator_losses(tiny_config):
    t = Trainer(tiny_config(strategies="multi-d:k=3"))
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    b = Batch("d", real, fake, real, fake)
    got = t.ctx.objective.d_loss(t.ctx, b)
    assert b.d_real.shape == (32, 3) and b.d_fake.shape == (32, 3)
    loss = get_loss("ns")
    expected = sum(loss.d(d(real).squeeze(1), d(fake).squeeze(1)) for d in t.ctx.D.discriminators)
    assert torch.allclose(got, expected)


def test_aggregates():
    losses = torch.tensor([0.5, 2.0, 1.0])
    assert torch.allclose(aggregate_losses(losses, "mean", 1.0), torch.tensor(3.5 / 3))
    assert torch.allclose(aggregate_losses(losses, "max", 1.0), torch.tensor(2.0))
    w = torch.softmax(2.0 * losses, 0)
    assert torch.allclose(aggregate_losses(losses, "soft", 2.0), (w * losses).sum())
    # soft-mean spans mean (lam = 0) .. max (lam large)
    assert torch.allclose(aggregate_losses(losses, "soft", 0.0), losses.mean())
    assert torch.allclose(aggregate_losses(losses, "soft", 200.0), torch.tensor(2.0), atol=1e-4)
    mid = aggregate_losses(losses, "soft", 1.0)
    assert losses.mean() < mid < losses.max()


@pytest.mark.parametrize("how", ["mean", "max", "soft"])
def test_g_loss_aggregates_per_column_losses(how, tiny_config):
    t = Trainer(tiny_config(strategies=f"multi-d:k=3:aggregate={how}:lam=0.5"))
    assert isinstance(t.ctx.objective, MultiDObjective)
    fake = torch.randn(32, 2)
    b = Batch("g", fake, fake, fake, fake)
    got = t.ctx.objective.g_loss(t.ctx, b)
    loss = get_loss("ns")
    per = torch.stack([loss.g(d(fake).squeeze(1)) for d in t.ctx.D.discriminators])
    assert torch.allclose(got, aggregate_losses(per, how, 0.5))
    if how == "max":
        assert torch.allclose(got, per.max())


def test_trains_and_logs_accuracy(tiny_config, tmp_path):
    t = Trainer(tiny_config(strategies="multi-d:aggregate=soft"), tmp_path)
    t.fit()
    row = last_metrics(tmp_path)
    assert 0.0 <= row["d_real_acc"] <= 1.0


@pytest.mark.parametrize("spec, kw, match", [
    ("multi-d:heads=2", {}, "unknown option 'heads'"),
    ("multi-d:k=two", {}, "option 'k' must be int"),
    ("multi-d:k=1", {}, "option 'k' must be >= 2"),
    ("multi-d:aggregate=median", {}, "option 'aggregate' must be one of"),
    ("multi-d:lam=-1", {}, "option 'lam' must be >= 0"),
    ("multi-d,multi-g", {}, "cannot be combined with 'multi-g'"),
])
def test_bad_input(spec, kw, match, tiny_config):
    with pytest.raises(ConfigError, match="multi-d") as e:
        Trainer(tiny_config(strategies=spec, **kw))
    assert match in str(e.value)
