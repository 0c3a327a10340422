import pytest
import torch
from torch import nn

from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _d_linears(trainer):
    return [m for m in trainer.ctx.D.modules() if isinstance(m, nn.Linear)]


def _snapshot(layers):
    return [[p.detach().clone() for p in m.parameters()] for m in layers]


@pytest.mark.parametrize("layers", [1, 2])
def test_frozen_layers_stay_fixed_while_the_rest_trains(tiny_config, layers):
    trainer = Trainer(tiny_config(strategies=f"freeze-d:layers={layers}", lr_d=1e-2))
    linears = _d_linears(trainer)  # body layers first, the head last
    before = _snapshot(linears)
    trainer.fit()
    after = _snapshot(linears)
    for i, (b, a) in enumerate(zip(before, after)):
        unchanged = all(torch.equal(x, y) for x, y in zip(b, a))
        assert unchanged == (i < layers), f"layer {i}"
    # the G phase switches D's grads off and back on; the frozen ones must stay off
    assert [p.requires_grad for p in linears[0].parameters()] == [False, False]
    assert all(p.requires_grad for p in linears[-1].parameters())
    in_opt = {id(p) for g in trainer.ctx.opt_d.param_groups for p in g["params"]}
    assert not any(id(p) in in_opt for m in linears[:layers] for p in m.parameters())


def test_composes_with_spectral_norm(tiny_config):
    trainer = Trainer(tiny_config(strategies="spectral-norm,freeze-d", lr_d=1e-2))
    first = _d_linears(trainer)[0]
    before = first.parametrizations.weight.original.detach().clone()
    trainer.fit()
    assert torch.equal(first.parametrizations.weight.original, before)


@pytest.mark.parametrize("spec, word", [
    ("freeze-d:layers=0", "layers"),
    ("freeze-d:layers=4", "layers"),   # the tiny D's body has 2 Linear layers
    ("freeze-d:layers=two", "layers"),
    ("freeze-d:nets=g", "nets"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"freeze-d.*{word}"):
        Trainer(tiny_config(strategies=spec))
