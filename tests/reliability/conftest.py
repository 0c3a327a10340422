import pytest

from .helpers import write_tiny_yaml


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory):
    """A YAML config of a tiny ring8 run (16-unit MLPs, batch 32, a metrics row per step)."""
    return write_tiny_yaml(tmp_path_factory.mktemp("cfg"))
