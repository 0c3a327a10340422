import numpy as np
import pytest
import torch

from modeguard.data import StackedImages, resolve_data
from modeguard.errors import DataError

from .idx_files import write_mnist_folder


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_stacked_digits_shape_and_modes():
    d = resolve_data("stacked-digits")
    assert isinstance(d, StackedImages) and d.kind == "image" and d.stacked
    assert d.shape == (3, 8, 8) and d.num_modes == 1000 and d.channel_classes == 10


def test_sampling_is_reproducible_from_the_generator():
    d = resolve_data("stacked-digits")
    a, la = d.sample_with_labels(256, _gen(7))
    b, lb = d.sample_with_labels(256, _gen(7))
    c = d.sample(256, _gen(8))
    assert torch.equal(a, b) and torch.equal(la, lb) and not torch.equal(a, c)
    assert torch.equal(d.sample(256, _gen(7)), a)
    assert a.shape == (256, 3, 8, 8) and a.min() >= -1 and a.max() <= 1


def test_each_channel_is_a_base_image_of_its_label():
    d = resolve_data("stacked-digits")
    x, labels = d.sample_with_labels(50, _gen(1))
    base = d.base.train_images[:, 0].reshape(len(d.base.train_images), -1).astype(np.float32) / 255
    px = d.to_data_space(x).reshape(50, 3, -1)
    for i in range(50):
        for ch in range(3):
            match = np.flatnonzero(np.abs(base - px[i, ch]).max(1) < 1e-6)
            assert len(match) and labels[i, ch].item() in d.base.train_labels[match]


def test_labels_cover_all_1000_triples_uniformly():
    d = resolve_data("stacked-digits")
    _, labels = d.sample_with_labels(30000, _gen(0))
    modes = d.mode_of(labels.numpy())
    counts = np.bincount(modes, minlength=1000)
    assert (counts > 0).all() and counts.sum() == 30000
    assert counts.std() / counts.mean() < 0.3  # ~30 per triple, no triple starved


def test_mode_of_orders_channels_most_significant_first():
    d = resolve_data("stacked-digits")
    assert d.mode_of(np.array([[1, 2, 3], [9, 9, 9], [0, 0, 0]])).tolist() == [123, 999, 0]


def test_reference_stacks_held_out_images():
    d = resolve_data("stacked-digits")
    ref = d.reference(40)
    assert ref.shape == (40, 3, 8, 8) and ref.dtype == np.float32 and 0 <= ref.min() and ref.max() <= 1
    assert np.array_equal(ref, d.reference(40)) and not np.array_equal(ref, d.reference(40, seed=1))
    test = d.base.test_images[:, 0].reshape(360, -1).astype(np.float32) / 255
    assert np.abs(test[None] - ref.reshape(120, 1, -1)).max(-1).min(1).max() < 1e-6


def test_stacked_mnist_from_a_folder(tmp_path):
    folder = write_mnist_folder(tmp_path / "m", n_train=30, n_test=10)
    d = resolve_data(f"stacked-mnist:{folder}")
    assert d.shape == (3, 28, 28) and d.num_modes == 1000
    assert d.sample(5, _gen(0)).shape == (5, 3, 28, 28)
    with pytest.raises(DataError, match="stacked-mnist:DIR"):
        resolve_data("stacked-mnist")


def test_stacked_needs_grey_labelled_base(tmp_path):
    from modeguard.data.images import ImageSet

    rgb = ImageSet("rgb", np.zeros((4, 3, 8, 8), np.uint8), np.arange(4), np.zeros((2, 3, 8, 8), np.uint8),
                   np.arange(2))
    with pytest.raises(DataError, match="1 channel"):
        StackedImages(rgb, "s")
    unlabelled = ImageSet("u", np.zeros((4, 1, 8, 8), np.uint8), None, np.zeros((2, 1, 8, 8), np.uint8), None)
    with pytest.raises(DataError, match="labels"):
        StackedImages(unlabelled, "s")
