import pytest
import yaml

from modeguard.config import DEFAULT_LR, DEFAULT_RECIPES, TrainConfig
from modeguard.recipes import (DATA_DEFAULTS, DEFAULT_BATCH, DEFAULT_MODEL, GRID_POINT_RECIPE,
                               TRUNCATED_POINT_RECIPE)
from modeguard.errors import ConfigError
from modeguard.monitor.heal import Rung
from modeguard.strategies import parse_strategies
from modeguard.train import Trainer


def test_default_recipe_depends_on_the_data_kind():
    assert TrainConfig().strategies == "default"
    points = TrainConfig(data="pts.npy").for_kind("points")
    images = TrainConfig(data="digits").for_kind("image")
    assert points.strategies == DEFAULT_RECIPES["points"] and points.lr_g == DEFAULT_LR["points"]
    assert images.strategies == DEFAULT_RECIPES["image"] and images.lr_d == DEFAULT_LR["image"]
    assert DEFAULT_RECIPES["points"] != DEFAULT_RECIPES["image"]
    # what the user set is kept
    mine = TrainConfig(data="digits", strategies="pacgan", lr_g=0.5).for_kind("image")
    assert mine.strategies == "pacgan" and mine.lr_g == 0.5 and mine.lr_d == DEFAULT_LR["image"]


def test_trainer_expands_the_recipe_and_saves_it(tmp_path):
    config = TrainConfig(data="stacked-digits", model="dcgan", steps=2, batch_size=8, progress=False,
                         eval_samples=16, model_options={"channels": 4, "z_dim": 4})
    trainer = Trainer(config, tmp_path / "run")
    wanted = [s.split(":")[0] for s in DEFAULT_RECIPES["image"]]
    assert [s.name for s in trainer.ctx.strategies] == wanted
    r1 = trainer.ctx.strategies[0]
    assert r1.opts["gamma"] == 1.0 and r1.opts["every"] == 16  # stacked digits' lazy R1
    trainer.fit()
    saved = yaml.safe_load((tmp_path / "run/config.yaml").read_text())
    assert [s.split(":")[0] for s in saved["strategies"]] == wanted  # resume needs no kind lookup
    assert saved["lr_g"] == DATA_DEFAULTS["stacked-digits"]["lr"]


@pytest.mark.parametrize("data, kind", [("ring8", "points"), ("digits", "image"), ("stacked-digits", "image")])
def test_model_batch_and_lr_default_per_data_kind_and_named_set(data, kind):
    c = TrainConfig(data=data).resolve().for_kind(kind)
    named = DATA_DEFAULTS.get(data, {})
    assert c.model == DEFAULT_MODEL[kind] and c.batch_size == named.get("batch_size", DEFAULT_BATCH[kind])
    assert c.lr_g == c.lr_d == named.get("lr", DEFAULT_LR[kind])
    assert c.model_options == named.get("model_options", {})
    mine = TrainConfig(data=data, model="mlp", batch_size=32, lr_g=0.01, model_options={"z_dim": 3}).for_kind(kind)
    assert (mine.model, mine.batch_size, mine.lr_g, mine.model_options) == ("mlp", 32, 0.01, {"z_dim": 3})


def test_stacked_digits_without_flags_is_the_headline_protocol():
    c = TrainConfig(data="stacked-digits").resolve().for_kind("image")
    assert (c.model, c.batch_size, c.steps, c.lr_g) == ("dcgan", 64, 100000, 5e-4)
    assert c.model_options == {"channels": 32} and "minibatch-stddev" in c.strategies


def test_ring8_without_flags_is_the_fast_protocol():
    c = TrainConfig(data="ring8").resolve().for_kind("points")
    assert (c.model, c.batch_size, c.steps, c.lr_g, c.lr_d) == ("mlp", 64, 12000, 3e-3, 3e-3)
    assert c.strategies == TRUNCATED_POINT_RECIPE
    # the balanced benchmark mixtures sample through the truncation; other point data do not
    assert TrainConfig(data="grid25").for_kind("points").strategies == GRID_POINT_RECIPE
    assert TrainConfig(data="pts.npy").for_kind("points").strategies == DEFAULT_RECIPES["points"]
    assert not any(s.startswith("jacobian-truncation") for s in DEFAULT_RECIPES["points"])


def test_grid25_without_flags_is_its_fast_protocol():
    c = TrainConfig(data="grid25").resolve().for_kind("points")
    assert (c.model, c.batch_size, c.steps, c.lr_g, c.lr_d) == ("mlp", 256, 24000, 3e-3, 3e-3)
    assert c.model_options == {"g_hidden": [64, 64, 64, 64], "d_hidden": [64, 64, 64]}
    assert c.strategies[-1] == "jacobian-truncation:q=0.05"
    # a model chosen by the user drops the set's model options with the set's model
    assert TrainConfig(data="grid25", model="mlp").for_kind("points").model_options == {}


def test_step_count_by_named_set_then_kind(tmp_path):
    from modeguard.recipes import DEFAULT_STEPS, KIND_STEPS
    from modeguard.train.assembly import resolve_config
    from modeguard.data import resolve_data

    assert TrainConfig(data="pts.npy").resolve("points").steps == KIND_STEPS["points"] == 40000  # rare modes
    assert TrainConfig(data="digits").resolve("image").steps == KIND_STEPS["image"]
    assert TrainConfig(data="ring8").resolve("points").steps == DEFAULT_STEPS["ring8"]
    assert TrainConfig(data="pts.npy", steps=7).resolve("points").steps == 7
    c = TrainConfig(data="pts.npy").resolve("points")
    assert (c.sample_every, c.ckpt_every) == (8000, 4000)  # derived from the kind's count
    points = tmp_path / "pts.npy"
    import numpy as np
    np.save(points, np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32))
    assert resolve_config(TrainConfig(data=str(points)), resolve_data(str(points))).steps == 40000


def test_default_keyword_round_trips_and_is_not_a_strategy():
    assert TrainConfig.from_dict(TrainConfig().to_dict()).strategies == "default"
    with pytest.raises(ConfigError, match="data kind's recipe"):
        parse_strategies("default")


def test_heal_recipe_rung_uses_the_kind_recipe():
    cfg, what = Rung("recipe").apply(TrainConfig(data="stacked-digits", strategies="none"))
    assert cfg.strategies[0].startswith("r1") and "gamma" not in cfg.strategies[0]  # gamma 1: r1's default
    assert Rung("recipe").apply(TrainConfig(data="stacked-digits")) is None  # already the recipe
