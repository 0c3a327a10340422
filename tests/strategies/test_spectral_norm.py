import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _linears(module):
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_every_d_weight_has_unit_spectral_norm_after_training(tiny_config):
    trainer = Trainer(tiny_config(strategies="spectral-norm", lr_d=1e-3))
    trainer.fit()
    layers = _linears(trainer.ctx.D)
    assert len(layers) == 3 and all(parametrize.is_parametrized(m, "weight") for m in layers)
    raw_norms = []
    for m in layers:
        original = m.parametrizations.weight.original.detach()
        raw_norms.append(float(torch.linalg.matrix_norm(original, 2)))
        assert torch.linalg.matrix_norm(m.weight.detach(), 2) == pytest.approx(1.0, abs=0.02)
        assert torch.allclose(m.weight.detach(), original / raw_norms[-1], rtol=0.02, atol=1e-4)
    assert max(abs(r - 1) for r in raw_norms) > 0.2  # without the normalisation they would not be 1
    assert not any(parametrize.is_parametrized(m) for m in _linears(trainer.ctx.G))


def test_power_iteration_state_is_checkpointed(tiny_config, tmp_path):
    trainer = Trainer(tiny_config(strategies="spectral-norm:nets=g+d"), tmp_path / "run")
    trainer.fit()
    keys = trainer.state_dict()["D"].keys()
    assert sum(k.endswith("._u") for k in keys) == 3
    reopened = Trainer.open(tmp_path / "run")
    for (k, a), b in zip(trainer.ctx.D.state_dict().items(), reopened.ctx.D.state_dict().values()):
        assert torch.equal(a, b), k
    assert parametrize.is_parametrized(_linears(reopened.ctx.G)[0], "weight")


@pytest.mark.parametrize("spec, word", [
    ("spectral-norm:n_power_iterations=0", "n_power_iterations"),
    ("spectral-norm:nets=D", "nets"),
    ("spectral-norm:eps=1e-6", "eps"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"spectral-norm.*{word}"):
        Trainer(tiny_config(strategies=spec))
