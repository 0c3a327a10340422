"""report.tensorboard: the optional TensorBoard mirror of a run's logs."""
import importlib.util

import pytest

from modeguard.errors import ConfigError
from modeguard.report.tensorboard import TensorBoardCallback, parse_rows

HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def test_parse_rows_skips_what_is_not_an_object():
    chunk = b'{"step": 1, "loss_d": 0.5}\n\xff\xfe\n[1, 2]\n{cut\n{"step": 2}\n'
    assert parse_rows(chunk) == [{"step": 1, "loss_d": 0.5}, {"step": 2}]
    assert parse_rows(b"") == []


@pytest.mark.skipif(HAS_TENSORBOARD, reason="only without the optional tensorboard package")
def test_without_tensorboard_the_callback_says_how_to_install():
    with pytest.raises(ConfigError, match=r"pip install 'modeguard\[tensorboard\]'"):
        TensorBoardCallback()
