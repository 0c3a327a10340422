"""Validation catches what training would die of, before anything is written: each bad
input is one line, exit 2, and leaves no folder behind."""
import numpy as np
import pytest

from modeguard.config import TrainConfig
from modeguard.errors import ConfigError
from modeguard.runs import new_run
from modeguard.strategies import parse_strategies

from .helpers import assert_one_line, cli

BAD_YAML = {
    "data-list": ("data: [ring8]\n", "data must be a name or a path"),
    "huge-seed": ("seed: 100000000000000000000\n", "seed"),
    "nan-model-option": ("model_options: {g_hidden: [16], d_hidden: [16], z_dim: .nan}\n", "model_options.z_dim"),
    "inf-in-a-list": ("model_options: {g_hidden: [16, .inf], d_hidden: [16]}\n", "model_options.g_hidden[1]"),
    "nan-strategy-option": ("strategies: 'ema:beta=nan'\n", "finite"),
    "inf-strategy-mapping": ("strategies: [{name: r1, gamma: .inf}]\n", "finite"),
    "non-string-key": ("1: 2\n", "unknown config key '1'"),
}


@pytest.mark.parametrize("name", sorted(BAD_YAML))
def test_bad_config_file_is_one_line_and_leaves_no_folder(tmp_path, capsys, name):
    text, fragment = BAD_YAML[name]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    code, _, err = cli(capsys, "train", "--config", cfg, "--steps", 2, "--out", tmp_path / "run")
    assert_one_line(code, err, 2, fragment)
    assert not (tmp_path / "run").exists()


def test_binary_config_file(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_bytes(bytes(range(256)) * 4)
    code, _, err = cli(capsys, "train", "--config", cfg, "--out", tmp_path / "run")
    assert_one_line(code, err, 2, "bad.yaml")


@pytest.mark.parametrize("flags,fragment", [
    (["--strategy", ",,"], "empty entry"),
    (["--strategy", "r1:gamma=1:gamma=2"], "given twice"),
    (["--strategy", "r1:gamma=1,gamma=2"], "given twice"),
    (["--strategy", "r1:gamma=nan"], "finite"),
    (["--strategy", "r1:gamma=inf"], "finite"),
    (["--lr", "nan"], "lr_g"),
    (["--threads", "100000"], "threads"),
    (["--batch-size", "1000000000"], "memory"),
    (["--seed", "-1"], "seed"),
])
def test_bad_flags_are_one_line_and_leave_no_folder(tmp_path, tiny_yaml, capsys, flags, fragment):
    """Seen: --threads 100000 segfaulted, --batch-size 1e9 died out of memory; both left a folder
    that blocked a rerun. ',,' meant the plain GAN; a repeated option kept its last value."""
    code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--steps", 2, "--out", tmp_path / "run", *flags)
    assert_one_line(code, err, 2, fragment)
    assert not (tmp_path / "run").exists()


def test_rerun_after_a_refused_start_is_not_blocked(tmp_path, tiny_yaml, capsys):
    out = tmp_path / "run"
    code, _, _ = cli(capsys, "train", "--config", tiny_yaml, "--threads", 100000, "--out", out)
    assert code == 2
    code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--steps", 2, "--out", out)
    assert code == 0, err


@pytest.mark.parametrize("std", [np.array([]), np.array([np.nan]), np.array(["x"])])
def test_npz_with_a_bad_std(tmp_path, tiny_yaml, capsys, std):
    data = tmp_path / "mix.npz"
    np.savez(data, points=np.random.default_rng(0).normal(size=(50, 2)), centers=np.zeros((1, 2)), std=std)
    code, _, err = cli(capsys, "train", "--config", tiny_yaml, "--data", data, "--out", tmp_path / "run")
    assert_one_line(code, err, 2, "std")
    assert not (tmp_path / "run").exists()


def test_a_run_failing_before_its_first_step_leaves_no_folder(tmp_path, tiny_config):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="first step"):
        with new_run(tiny_config(), out):
            raise RuntimeError("died in the first step")
    assert not out.exists()


def test_an_existing_empty_folder_is_kept_empty(tmp_path, tiny_config):
    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(RuntimeError):
        with new_run(tiny_config(), out):
            raise RuntimeError("died in the first step")
    assert out.is_dir() and list(out.iterdir()) == []


@pytest.mark.parametrize("value", [",,", ",", " , ", "ema,,r1"])
def test_empty_strategy_entries(value):
    with pytest.raises(ConfigError, match="empty entry"):
        parse_strategies(value)


def test_plain_gan_spellings_still_mean_no_strategies():
    assert parse_strategies("none") == [] and parse_strategies("") == [] and parse_strategies([]) == []


@pytest.mark.parametrize("field,value", [("lr_g", float("inf")), ("beta2", float("nan")),
                                         ("model_options", {"g_hidden": [float("nan")]}), ("data", ["ring8"]),
                                         ("seed", 2**40), ("threads", 10**6)])
def test_config_values(field, value):
    with pytest.raises(ConfigError, match=field):
        TrainConfig(**{field: value}).resolve()
