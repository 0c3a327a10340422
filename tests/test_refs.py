"""References to user code: package.module:NAME and path/to/file.py:NAME."""
import pytest

from modeguard.errors import ConfigError
from modeguard.refs import canonical_ref, is_ref, load_object, split_ref


def test_is_ref_tells_references_from_names_and_paths():
    assert is_ref("pkg.mod:build") and is_ref("dir/mine.py:build") and is_ref("mod:NAME")
    assert not is_ref("ring8") and not is_ref("pts.npy") and not is_ref("pkg.mod:") and not is_ref("a:b:c")
    assert not is_ref("pkg.mod:NAME\n") and not is_ref("a\nb.py:NAME")  # one line only
    assert split_ref("some dir/mine.py:build") == ("some dir/mine.py", "build")


def test_loads_a_name_from_a_module():
    assert load_object("json:dumps")({"a": 1}) == '{"a": 1}'


def test_loads_a_name_from_a_file(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text("def build():\n    return 42\n")
    assert load_object(f"{f}:build")() == 42


def test_a_changed_file_is_read_again(tmp_path):
    f = tmp_path / "mine.py"
    f.write_text("VALUE = 1\n")
    assert load_object(f"{f}:VALUE", callable_=False) == 1
    f.write_text("VALUE = 22\n")  # another size, so another version whatever the clock says
    assert load_object(f"{f}:VALUE", callable_=False) == 22


@pytest.mark.parametrize("ref, words", [
    ("no_such_module_xyz.sub:NAME", "no module named 'no_such_module_xyz'"),
    ("json:no_such_name", "defines no 'no_such_name'"),
    ("json.decoder:__doc__", "not a function or class"),
    ("not a ref", "not a reference"),
])
def test_bad_references_are_one_line(ref, words):
    with pytest.raises(ConfigError, match=words) as e:
        load_object(ref)
    assert "\n" not in str(e.value)


def test_missing_file_and_broken_file_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_object(f"{tmp_path}/absent.py:build")
    f = tmp_path / "broken.py"
    f.write_text("import no_such_module_abc\n")
    with pytest.raises(ConfigError, match="importing .* failed: ModuleNotFoundError") as e:
        load_object(f"{f}:build")
    assert "\n" not in str(e.value)
    g = tmp_path / "syntax.py"
    g.write_text("def build(:\n")
    with pytest.raises(ConfigError, match="SyntaxError"):
        load_object(f"{g}:build")


def test_canonical_ref_makes_file_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert canonical_ref("mine.py:build") == f"{tmp_path.resolve()}/mine.py:build"
    assert canonical_ref("pkg.mod:build") == "pkg.mod:build"
