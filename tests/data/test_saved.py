"""In-memory user data saved into a run and read back by a fresh process (--data saved:PATH)."""
import numpy as np
import pytest
import torch

from modeguard.data import as_dataset, load_saved_dataset, resolve_data, save_dataset
from modeguard.errors import DataError


def test_points_come_back_identical(tmp_path):
    x = np.random.default_rng(0).normal([3.0, -1.0], [2.0, 0.1], size=(300, 2))
    data = as_dataset(x, name="mine", labels=np.arange(300) % 4)
    path = save_dataset(data, tmp_path / "data.npz")
    back = resolve_data(f"saved:{path}")
    assert back.name == "mine" and back.kind == "points" and back.num_classes == 4
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(data.sample(64, g1), back.sample(64, g2))  # same standardisation, same stream
    assert np.array_equal(data.reference(50), back.reference(50))


def test_images_come_back_with_their_split_and_labels(tmp_path):
    images = torch.rand(40, 1, 6, 6)
    data = as_dataset(list(zip(images, [i % 3 for i in range(40)])), name="imgs")
    back = load_saved_dataset(save_dataset(data, tmp_path / "imgs.npz"))
    assert back.kind == "image" and back.shape == (1, 6, 6) and back.num_classes == 3 and back.labelled
    assert back.checksum() == data.checksum()  # same pixels, labels and split: the same cached classifier
    unlabelled = as_dataset(torch.rand(12, 3, 4, 4))
    assert not load_saved_dataset(save_dataset(unlabelled, tmp_path / "u.npz")).labelled


def test_what_cannot_be_saved_or_read_is_one_line(tmp_path):
    with pytest.raises(DataError, match="has a --data spec"):
        save_dataset(resolve_data("ring8"), tmp_path / "ring.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a saved data set"):
        resolve_data(f"saved:{bad}")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, points=np.zeros((3, 2)))
    with pytest.raises(DataError, match="not a saved data set of format"):
        load_saved_dataset(foreign)
    with pytest.raises(DataError, match="saved data not found"):
        resolve_data(f"saved:{tmp_path / 'absent.npz'}")
    with pytest.raises(DataError, match="needs a file"):
        resolve_data("saved")
