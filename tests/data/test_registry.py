"""The data registry: named sources, point files and code references, in one table."""
import numpy as np
import pytest

from modeguard.data import SOURCES, data_names, register_data, resolve_data, ring
from modeguard.errors import DataError


def test_every_builtin_source_is_named():
    assert {"ring8", "grid25", "digits", "mnist", "fashion-mnist", "images", "stacked-digits", "stacked-mnist",
            "stacked-fashion-mnist", "saved"} <= set(data_names())


def test_a_registered_source_gets_its_argument(monkeypatch):
    monkeypatch.setitem(SOURCES, "ringk", None)  # restored after the test
    register_data("ringk")(lambda arg: ring(int(arg or 3)))
    assert len(resolve_data("ringk:5").modes.centers) == 5 and len(resolve_data("ringk").modes.centers) == 3


@pytest.mark.parametrize("spec, words", [
    ("mnist", "needs a folder"), ("stacked-mnist", "needs a folder"), ("images", "needs a folder"),
    ("digits:x", "takes no argument"), ("", "must be a name"), ("ring8\nx", "on one line"),
])
def test_sources_refuse_bad_arguments_in_one_line(spec, words):
    with pytest.raises(DataError, match=words):
        resolve_data(spec)


def test_point_files_are_read_by_suffix(tmp_path):
    path = tmp_path / "pts.csv"
    np.savetxt(path, np.arange(12.0).reshape(6, 2), delimiter=",")
    assert resolve_data(str(path)).shape == (2,)
    with pytest.raises(DataError, match="data file not found"):
        resolve_data(str(tmp_path / "absent.npy"))
