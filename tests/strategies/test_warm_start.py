import pytest
import torch

from modeguard.errors import CheckpointError, ConfigError
from modeguard.train import Callback, Interrupted, Trainer


def _source(tiny_config, path, strategies="none", **kw):
    trainer = Trainer(tiny_config(strategies=strategies, steps=3, **kw), path)
    trainer.fit()
    return trainer


def _equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_weights_equal_the_sources_after_setup(tiny_config, tmp_path):
    src = _source(tiny_config, tmp_path / "src")
    for where in (tmp_path / "src", src.run.latest_checkpoint()):  # a run dir or a .pt file
        trainer = Trainer(tiny_config(strategies=f"warm-start:checkpoint={where}", seed=7))
        assert _equal(trainer.ctx.G, src.ctx.G) and _equal(trainer.ctx.D, src.ctx.D)


def test_only_the_listed_net(tiny_config, tmp_path):
    src = _source(tiny_config, tmp_path / "src")
    trainer = Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}:nets=d", seed=7))
    assert _equal(trainer.ctx.D, src.ctx.D) and not _equal(trainer.ctx.G, src.ctx.G)


def test_g_from_the_sources_ema(tiny_config, tmp_path):
    src = _source(tiny_config, tmp_path / "src", strategies="ema:beta=0.5")
    trainer = Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}:ema=true:nets=g"))
    assert _equal(trainer.ctx.G, src.ctx.strategies[0].G_ema) and not _equal(trainer.ctx.G, src.ctx.G)


def test_spectral_normed_source_into_plain_d_computes_the_same(tiny_config, tmp_path):
    src = _source(tiny_config, tmp_path / "src", strategies="spectral-norm", lr_d=1e-2)
    trainer = Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}"))
    x = torch.randn(50, 2)
    src.ctx.D.eval()
    with torch.no_grad():
        assert torch.allclose(trainer.ctx.D(x), src.ctx.D(x), atol=1e-5)


def test_plain_source_into_spectral_normed_d(tiny_config, tmp_path):
    src = _source(tiny_config, tmp_path / "src")
    trainer = Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'},spectral-norm"))
    layer = trainer.ctx.D.body[1]
    assert torch.equal(layer.parametrizations.weight.original, src.ctx.D.body[1].weight)
    assert torch.linalg.matrix_norm(layer.weight.detach(), 2) == pytest.approx(1.0, abs=1e-3)


class _StopAt(Callback):
    def on_step_end(self, trainer):
        if trainer.ctx.step == 3:
            trainer.request_stop("test", kind="interrupt")


def test_resume_matches_uninterrupted(tiny_config, tmp_path):
    _source(tiny_config, tmp_path / "src")
    spec = f"warm-start:checkpoint={tmp_path / 'src'},freeze-d"
    full = Trainer(tiny_config(strategies=spec), tmp_path / "full")
    full.fit()
    part = Trainer(tiny_config(strategies=spec), tmp_path / "part", callbacks=[_StopAt()])
    with pytest.raises(Interrupted):
        part.fit()
    resumed = Trainer.resume(tmp_path / "part")
    resumed.fit()
    assert _equal(full.ctx.G, resumed.ctx.G) and _equal(full.ctx.D, resumed.ctx.D)


def test_shape_mismatch_is_a_checkpoint_error(tiny_config, tmp_path):
    _source(tiny_config, tmp_path / "src")
    bigger = {"g_hidden": [16, 16], "d_hidden": [32, 16], "z_dim": 4}
    with pytest.raises(CheckpointError, match="warm-start.*shape"):
        Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}", model_options=bigger))
    deeper = {"g_hidden": [16, 16, 16], "d_hidden": [16, 16], "z_dim": 4}
    with pytest.raises(CheckpointError, match="warm-start"):
        Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}", model_options=deeper))


def test_source_without_ema(tiny_config, tmp_path):
    _source(tiny_config, tmp_path / "src")
    with pytest.raises(CheckpointError, match="warm-start.*ema"):
        Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'src'}:ema=true"))


def test_run_dir_without_checkpoints(tiny_config, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoints"):
        Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'empty'}"))


def test_not_a_checkpoint(tiny_config, tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        Trainer(tiny_config(strategies=f"warm-start:checkpoint={tmp_path / 'junk.pt'}"))


@pytest.mark.parametrize("spec, word", [
    ("warm-start", "checkpoint"),
    ("warm-start:checkpoint=/nonexistent/run", "does not exist"),
    ("warm-start:checkpoint=/tmp:nets=x", "nets"),
    ("warm-start:checkpoint=/tmp:ema=perhaps", "ema"),
    ("warm-start:path=/tmp", "path"),
])
def test_bad_options(tiny_config, spec, word):
    with pytest.raises(ConfigError, match=f"warm-start.*{word}"):
        Trainer(tiny_config(strategies=spec))
