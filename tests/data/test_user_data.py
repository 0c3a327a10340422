"""The user's own data: tensors, arrays and torch Datasets, in memory or named by file.py:NAME."""
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset as TorchDataset, TensorDataset

from modeguard.data import ImageSet, as_dataset, resolve_data
from modeguard.errors import ConfigError, DataError, ModeGuardError
from modeguard.metrics import evaluate_samples


def _points(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal([10.0, -3.0], [5.0, 0.5], size=(n, 2))


def test_points_train_standardised_and_come_back_in_user_units():
    x = _points()
    data = as_dataset(torch.as_tensor(x), name="mine")
    assert data.kind == "points" and data.shape == (2,) and data.name == "mine" and data.spec() == "mine"
    s = data.sample(5000, torch.Generator().manual_seed(1))
    assert s.shape == (5000, 2) and s.dtype == torch.float32
    assert s.mean(0).abs().max() < 0.1 and (s.std(0) - 1).abs().max() < 0.1  # the model's scale
    back = data.to_data_space(s)
    assert np.allclose(back.mean(0), x.mean(0), atol=0.3)
    ref = data.reference(100, seed=3)
    assert ref.shape == (100, 2)
    assert all(np.isclose(x, r).all(1).any() for r in ref)  # real points, in the user's units
    assert np.array_equal(ref, data.reference(100, seed=3))


def test_numpy_points_with_labels_keep_their_classes():
    x = _points(50)
    y = np.arange(50) % 3
    data = as_dataset(x, labels=y)
    assert data.labelled and data.num_classes == 3 and np.array_equal(data.labels, y)


@pytest.mark.parametrize("scale, offset", [(1.0, 0.0), (2.0, -1.0), (255.0, 0.0)])
def test_images_in_each_range_map_to_minus_one_one(scale, offset):
    rng = np.random.default_rng(0)
    unit = rng.integers(0, 256, size=(40, 1, 8, 8)) / 255.0
    data = as_dataset(torch.as_tensor(unit * scale + offset, dtype=torch.float32))
    assert isinstance(data, ImageSet) and data.kind == "image" and data.shape == (1, 8, 8)
    s = data.sample(64, torch.Generator().manual_seed(0))
    assert s.shape == (64, 1, 8, 8) and s.min() >= -1 and s.max() <= 1 and s.min() < -0.9 and s.max() > 0.9
    ref = data.reference(40)
    pool = {tuple(np.round(im.ravel() * 255).astype(int)) for im in unit}
    assert all(tuple(np.round(r.ravel() * 255).astype(int)) in pool for r in ref)  # data space is [0, 1]


def test_uint8_images_are_taken_as_pixels():
    px = np.random.default_rng(0).integers(0, 256, size=(20, 3, 4, 4), dtype=np.uint8)
    data = as_dataset(px)
    assert data.shape == (3, 4, 4) and not data.labelled
    drawn = np.rint(data.to_data_space(data.sample(8, torch.Generator())) * 255).astype(np.uint8)
    assert all((px == d).all((1, 2, 3)).any() for d in drawn)  # the very pixels, unscaled


class Pairs(TorchDataset):
    def __init__(self, n=30):
        self.x = torch.rand(n, 1, 6, 6)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i % 4


def test_torch_dataset_of_pairs_gives_labelled_images():
    data = as_dataset(Pairs(), name="pairs")
    assert data.kind == "image" and data.labelled and data.num_classes == 4
    assert len(data.train_images) + len(data.test_images) == 30
    assert sorted(set(data.train_labels.tolist()) | set(data.test_labels.tolist())) == [0, 1, 2, 3]


def test_tensor_dataset_and_plain_samples():
    x = torch.randn(25, 3)
    with_labels = as_dataset(TensorDataset(x, torch.arange(25) % 5))
    assert with_labels.kind == "points" and with_labels.num_classes == 5
    alone = as_dataset(TensorDataset(x))
    assert alone.kind == "points" and not alone.labelled
    assert np.allclose(as_dataset([row for row in x]).reference(25), x.double().numpy(), atol=1e-6)


def test_a_modeguard_dataset_is_returned_as_it_is():
    ring = resolve_data("ring8")
    assert as_dataset(ring) is ring


@pytest.mark.parametrize("bad, words", [
    (np.zeros((0, 2)), "empty"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or inf"),
    (np.array([["a", "b"], ["c", "d"]]), "real numbers"),
    (np.zeros((5, 8, 8)), "add a channel axis"),
    (np.zeros(5), r"points \(n, d\) or images"),
    (np.full((4, 1, 3, 3), 7.0) - np.arange(4)[:, None, None, None] * 9, "scale them"),
    (np.zeros((4, 8, 8, 3)), "channels-last"),
    (np.ones((1, 2)), "at least 2 points"),
    ({"x": 1}, "cannot use a dict"),
])
def test_bad_data_is_one_data_error_line(bad, words):
    with pytest.raises(DataError, match=words) as e:
        as_dataset(bad)
    assert "\n" not in str(e.value)


def test_bad_labels_and_items_are_one_line():
    with pytest.raises(DataError, match="labels must be 3 non-negative integers"):
        as_dataset(np.zeros((3, 2)), labels=[0.5, 1.0, 2.0])
    with pytest.raises(DataError, match="not an integer class"):
        as_dataset([(torch.zeros(2), 0.5), (torch.ones(2), 1.5)])
    with pytest.raises(DataError, match="item 1 has shape"):
        as_dataset([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(DataError, match="empty"):
        as_dataset(TensorDataset(torch.zeros(0, 2)))


def test_data_named_by_a_file_reference(tmp_path):
    f = tmp_path / "my_data.py"
    f.write_text("import numpy as np\n"
                 "def load():\n    return np.random.default_rng().normal(size=(200, 3))\n"
                 "def broken():\n    raise RuntimeError('disk on fire')\n"
                 "def nothing():\n    return None\n"
                 "POINTS = np.eye(4)\n")
    ref = f"{f}:load"
    data = resolve_data(ref)
    assert data.kind == "points" and data.shape == (3,) and data.spec() == ref
    assert resolve_data(ref) is data  # NAME() ran once: the trainer, healing and doctor see the same data
    assert resolve_data(f"{f}:POINTS").shape == (4,)  # a value, not a function, is used as it is
    with pytest.raises(DataError, match="calling broken\\(\\) failed: RuntimeError: disk on fire"):
        resolve_data(f"{f}:broken")
    with pytest.raises(DataError, match="cannot use a NoneType"):
        resolve_data(f"{f}:nothing")
    with pytest.raises(ConfigError, match="defines no 'absent'"):
        resolve_data(f"{f}:absent")


def test_data_named_by_a_module_reference(tmp_path, monkeypatch):
    pkg = tmp_path / "userpkg_for_data"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sets.py").write_text("import torch\ndef images():\n    return torch.rand(12, 1, 4, 4)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = resolve_data("userpkg_for_data.sets:images")
    assert data.kind == "image" and data.shape == (1, 4, 4)


def test_named_sources_and_unknown_names():
    assert len(resolve_data("grid25").modes.centers) == 25
    with pytest.raises(DataError, match="takes no argument"):
        resolve_data("ring8:5")
    with pytest.raises(ModeGuardError, match="no module named 'nosuchsource'"):
        resolve_data("nosuchsource:thing")
    with pytest.raises(DataError, match="unknown data 'nosuch'"):
        resolve_data("nosuch")


def test_user_data_gets_evaluated():
    points = as_dataset(_points(300))
    out = evaluate_samples(points, points.reference(300, seed=1))
    assert out["precision"] > 0.9 and out["coverage"] > 0.5
    images = as_dataset(torch.rand(60, 1, 4, 4))
    out = evaluate_samples(images, images.reference(20))
    assert out["n"] == 20 and 0 <= out["recall"] <= 1 and "modes" not in out
