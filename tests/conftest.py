import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture
def tiny_config():
    """A tiny ring8 config that trains in well under a second."""
    from modeguard.config import TrainConfig

    def make(**kw):
        base = dict(data="ring8", strategies="none", steps=6, batch_size=32, lr_g=1e-3, lr_d=1e-3, log_every=2, sample_every=1000,
                    ckpt_every=3, progress=False, eval_samples=64,
                    model_options={"g_hidden": [16, 16], "d_hidden": [16, 16], "z_dim": 4})
        base.update(kw)
        return TrainConfig(**base)

    return make


@pytest.fixture(autouse=True, scope="session")
def modeguard_cache(tmp_path_factory):
    """Mode classifiers that tests train are cached in a per-session folder, never in ~/.cache."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("modeguard-cache")
    patch.setenv("MODEGUARD_CACHE", str(path))
    yield path
    patch.undo()
