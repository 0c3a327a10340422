import pytest

from modeguard.cli import main

from .helpers import write_tiny_yaml


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory):
    """A YAML config of a tiny ring8 run (16-unit MLPs, batch 32, a metrics row per step)."""
    return write_tiny_yaml(tmp_path_factory.mktemp("cfg"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_yaml):
    """A finished tiny run (6 steps, a checkpoint every 2), shared by a test module; copy it
    before changing it."""
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--config", str(tiny_yaml), "--steps", "6", "--ckpt-every", "2", "--out", str(out)]) == 0
    return out
