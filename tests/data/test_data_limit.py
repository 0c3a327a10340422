"""``--data-limit N``: training draws from N samples chosen with the seed; held-out data,
the mode classifier's data and the reference stay whole; bad limits are one-line errors."""
import numpy as np
import pytest
import torch
import yaml

from modeguard.cli import main
from modeguard.config import TrainConfig, resume_changes
from modeguard.data import resolve_data
from modeguard.data.limit import limit_data
from modeguard.errors import ConfigError
from modeguard.train import Trainer


def _rows(x: torch.Tensor) -> set:
    return {bytes(r.numpy().tobytes()) for r in x.reshape(len(x), -1)}


def _draw(data, n=4000, seed=0):
    return data.sample(n, torch.Generator().manual_seed(seed))


def test_an_image_set_trains_on_n_of_its_train_images_drawn_with_the_seed():
    full = resolve_data("digits")
    limited = limit_data(full, 50, seed=3)
    drawn = _rows(_draw(limited))
    assert len(drawn) == 50  # 4000 draws hit every one of the 50 images, and no other
    chosen = torch.from_numpy(full.train_images[limited.training_indices]).float().mul(2 / 255).sub(1)
    assert drawn == _rows(chosen)
    assert np.array_equal(limit_data(full, 50, seed=3).training_indices, limited.training_indices)
    assert not np.array_equal(limit_data(full, 50, seed=4).training_indices, limited.training_indices)
    # held-out data and the arrays the mode classifier learns from are untouched
    assert np.array_equal(limited.reference(100), full.reference(100))
    assert len(limited.train_images) == len(full.train_images) and limited.checksum() == full.checksum()
    assert len(_rows(_draw(full))) > 50  # the unlimited set is not affected


def test_a_stacked_set_draws_its_stacks_from_n_base_images():
    full = resolve_data("stacked-digits")
    limited = limit_data(full, 30, seed=1)
    x, labels = limited.sample_with_labels(3000, torch.Generator().manual_seed(0))
    channels = _rows(x.reshape(-1, 1, *x.shape[2:]))
    base = torch.from_numpy(full.base.train_images[limited.training_indices]).float().mul(2 / 255).sub(1)
    assert channels == _rows(base)  # every channel is one of the 30 base images, each used
    assert limited.num_modes == 1000 and labels.shape == (3000, 3)
    assert np.array_equal(limited.reference(200), full.reference(200))
    assert len(limited.base.train_images) == len(full.base.train_images)


def test_a_point_file_trains_on_n_points_and_keeps_its_units(tmp_path):
    pts = np.random.default_rng(0).normal(5.0, 2.0, size=(300, 3))
    np.save(tmp_path / "p.npy", pts)
    full = resolve_data(str(tmp_path / "p.npy"))
    limited = limit_data(full, 20, seed=0)
    back = limited.to_data_space(_draw(limited, 2000))
    assert len(np.unique(back.round(6), axis=0)) == 20
    assert np.allclose(np.unique(back.round(6), axis=0), np.unique(pts[limited.training_indices].round(6), axis=0),
                       atol=1e-4)
    assert len(limited.reference(1000)) == 300  # the reference is every point, as before


def test_a_mixture_trains_on_n_samples_drawn_once():
    full = resolve_data("ring8")
    limited = limit_data(full, 64, seed=2)
    assert len(_rows(_draw(limited, 3000))) == 64
    assert _rows(_draw(limited, 3000, seed=1)) == _rows(_draw(limited, 3000))
    assert limited.modes is full.modes and limited.kind == full.kind
    assert np.array_equal(limited.reference(100), full.reference(100))
    assert limit_data(full, None, seed=2) is full


@pytest.mark.parametrize("spec, n", [("digits", 100_000), ("stacked-digits", 0), ("ring8", 0), ("digits", -3)])
def test_a_limit_below_one_or_above_the_set_is_a_config_error(spec, n):
    with pytest.raises(ConfigError) as err:
        limit_data(resolve_data(spec), n, seed=0)
    assert "data_limit" in str(err.value) and "\n" not in str(err.value)


def test_the_config_validates_the_limit():
    with pytest.raises(ConfigError, match="data_limit"):
        TrainConfig(data="ring8", data_limit=0).validate()
    TrainConfig(data="ring8", data_limit=10).validate()


def test_a_run_records_its_limit_and_a_resume_cannot_change_it(tmp_path, tiny_config):
    Trainer(tiny_config(data_limit=40), tmp_path / "run").fit()
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["data_limit"] == 40
    resumed = Trainer.resume(tmp_path / "run", steps=8)
    assert len(_rows(_draw(resumed.ctx.data, 2000))) == 40
    with pytest.raises(ConfigError, match="data_limit"):
        resume_changes(TrainConfig.load(tmp_path / "run" / "config.yaml"), {"data_limit": 50})
    assert resume_changes(TrainConfig.load(tmp_path / "run" / "config.yaml"), {"data_limit": 40}) == {}


def test_the_cli_flag_too_large_is_one_line_exit_2(tmp_path, capsys):
    code = main(["train", "--data", "digits", "--data-limit", "100000", "--steps", "2", "--out", str(tmp_path / "r"),
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "data_limit 100000 is more than" in err and len(err.splitlines()) == 1
