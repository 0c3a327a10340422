import pytest
import yaml

from modeguard.config import DEFAULT_LR, DEFAULT_RECIPES, TrainConfig
from modeguard.errors import ConfigError
from modeguard.monitor.heal import Rung
from modeguard.strategies import parse_strategies
from modeguard.train import Trainer


def test_default_recipe_depends_on_the_data_kind():
    assert TrainConfig().strategies == "default"
    points = TrainConfig(data="ring8").for_kind("points")
    images = TrainConfig(data="digits").for_kind("image")
    assert points.strategies == DEFAULT_RECIPES["points"] and points.lr_g == DEFAULT_LR["points"]
    assert images.strategies == DEFAULT_RECIPES["image"] and images.lr_d == DEFAULT_LR["image"]
    assert DEFAULT_RECIPES["points"] != DEFAULT_RECIPES["image"]
    # what the user set is kept
    mine = TrainConfig(strategies="pacgan", lr_g=0.5).for_kind("image")
    assert mine.strategies == "pacgan" and mine.lr_g == 0.5 and mine.lr_d == DEFAULT_LR["image"]


def test_trainer_expands_the_recipe_and_saves_it(tmp_path):
    config = TrainConfig(data="stacked-digits", model="dcgan", steps=2, batch_size=8, progress=False,
                         eval_samples=16, model_options={"channels": 4, "z_dim": 4})
    trainer = Trainer(config, tmp_path / "run")
    wanted = [s.split(":")[0] for s in DEFAULT_RECIPES["image"]]
    assert [s.name for s in trainer.ctx.strategies] == wanted
    assert trainer.ctx.strategies[0].opts["gamma"] == 1.0
    trainer.fit()
    saved = yaml.safe_load((tmp_path / "run/config.yaml").read_text())
    assert [s.split(":")[0] for s in saved["strategies"]] == wanted  # resume needs no kind lookup
    assert saved["lr_g"] == DEFAULT_LR["image"]


def test_default_keyword_round_trips_and_is_not_a_strategy():
    assert TrainConfig.from_dict(TrainConfig().to_dict()).strategies == "default"
    with pytest.raises(ConfigError, match="data kind's recipe"):
        parse_strategies("default")


def test_heal_recipe_rung_uses_the_kind_recipe():
    cfg, what = Rung("recipe").apply(TrainConfig(data="stacked-digits", strategies="none"))
    assert cfg.strategies[0].startswith("r1") and "gamma" not in cfg.strategies[0]  # gamma 1: r1's default
    assert Rung("recipe").apply(TrainConfig(data="stacked-digits")) is None  # already the recipe
