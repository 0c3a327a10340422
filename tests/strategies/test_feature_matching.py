"""feature-matching: the term, its place in G's loss, and bad input."""
import pytest
import torch

from modeguard.errors import ConfigError
from modeguard.strategies.feature_matching import FeatureMatchingObjective, feature_matching_term
from modeguard.train import Trainer
from modeguard.train.objective import AdversarialObjective, Batch

from .logged import last_metrics


def test_term_zero_for_identical_batches_positive_otherwise(tiny_config):
    D = Trainer(tiny_config()).ctx.D
    real = torch.randn(16, 2)
    assert feature_matching_term(D.features, real, real.clone()).item() == 0.0
    assert feature_matching_term(D.features, real, real + 0.5).item() > 0
    # the batch mean is what is matched: a permuted batch costs nothing
    assert feature_matching_term(D.features, real, real.flip(0)).item() == pytest.approx(0.0, abs=1e-10)


def test_term_by_hand(tiny_config):
    D = Trainer(tiny_config()).ctx.D
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    expected = ((D.body(real).mean(0) - D.body(fake).mean(0)) ** 2).sum()
    assert torch.allclose(feature_matching_term(D.features, real, fake), expected)


def _g_batch(t):
    z = t.ctx.sample_z(32)
    fake = t.ctx.G(z)
    real = t.ctx.sample_real(32)
    return Batch("g", real, fake, real, fake)


def test_added_to_g_loss_with_gradient_into_g(tiny_config):
    t = Trainer(tiny_config(strategies="feature-matching:weight=2"))
    assert isinstance(t.ctx.objective, AdversarialObjective)
    b = _g_batch(t)
    extra = t.ctx.strategies[0].g_loss(t.ctx, b)
    assert torch.allclose(extra, 2 * feature_matching_term(t.ctx.D.features, b.real_in, b.fake_in))
    extra.backward()
    assert all(p.grad is not None for p in t.ctx.G.parameters())


def test_replace_makes_it_the_whole_g_loss(tiny_config, tmp_path):
    t = Trainer(tiny_config(strategies="feature-matching:replace=true:weight=3"), tmp_path)
    assert isinstance(t.ctx.objective, FeatureMatchingObjective)
    b = _g_batch(t)
    assert t.ctx.strategies[0].g_loss(t.ctx, b) is None
    got = t.ctx.objective.g_loss(t.ctx, b)
    assert torch.allclose(got, 3 * feature_matching_term(t.ctx.D.features, b.real_in, b.fake_in))
    assert b.d_fake is not None and b.d_fake.shape == (32, 1)
    t.fit()  # D still trains on the adversarial loss
    assert last_metrics(tmp_path)["feature_matching"] >= 0


def test_wraps_multi_d_objective(tiny_config):
    t = Trainer(tiny_config(strategies="feature-matching:replace=true,multi-d:k=2"))
    assert type(t.ctx.objective.inner).__name__ == "MultiDObjective"
    assert t.ctx.D.features(torch.randn(3, 2)).shape == (3, 32)  # two critics' 16 features
    t.fit()


@pytest.mark.parametrize("spec, match", [
    ("feature-matching:layer=2", "unknown option 'layer'"),
    ("feature-matching:weight=big", "option 'weight' must be float"),
    ("feature-matching:weight=-1", "option 'weight' must be >= 0"),
    ("feature-matching:replace=maybe", "option 'replace' must be bool"),
    ("feature-matching:replace=true,unrolled", "cannot be combined with 'unrolled'"),
])
def test_bad_input(spec, match, tiny_config):
    with pytest.raises(ConfigError, match="feature-matching") as e:
        Trainer(tiny_config(strategies=spec))
    assert match in str(e.value)
