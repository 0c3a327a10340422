from pathlib import Path

import numpy as np
import pytest
import torch

from modeguard.data import ImageSet, resolve_data
from modeguard.data import images as images_mod
from modeguard.data.images import FASHION_MNIST_DIR, parse_folder_spec
from modeguard.errors import DataError

from .idx_files import write_mnist_folder

FASHION_INSTALLED = Path(FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz").is_file()


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_digits_is_an_image_set_with_labels_and_a_split():
    d = resolve_data("digits")
    assert isinstance(d, ImageSet) and d.kind == "image" and d.shape == (1, 8, 8)
    assert len(d.train_images) == 1437 and len(d.test_images) == 360 and d.num_classes == 10
    assert set(np.unique(d.test_labels)) == set(range(10))
    assert d.train_images.dtype == np.uint8 and d.train_images.max() == 255


def test_sampling_is_in_model_space_and_reproducible():
    d = resolve_data("digits")
    x = d.sample(64, _gen(3))
    assert x.shape == (64, 1, 8, 8) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1
    assert torch.equal(x, d.sample(64, _gen(3)))
    assert not torch.equal(x, d.sample(64, _gen(4)))
    back = d.to_data_space(x)
    assert isinstance(back, np.ndarray) and back.shape == (64, 1, 8, 8)
    # every sample is one of the train images, in [0, 1]
    train = d.train_images.reshape(len(d.train_images), -1).astype(np.float32) / 255
    dist = np.abs(back.reshape(64, 1, -1) - train[None]).max(-1).min(1)
    assert dist.max() < 1e-6


def test_to_data_space_clips_out_of_range_values():
    d = resolve_data("digits")
    out = d.to_data_space(torch.tensor([-3.0, -1.0, 0.0, 1.0, 2.0]).reshape(5, 1, 1, 1))
    assert out.ravel().tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_reference_is_held_out_test_data_when_there_is_enough():
    d = resolve_data("digits")
    ref = d.reference(100)
    assert ref.shape == (100, 1, 8, 8) and ref.dtype == np.float32
    test = d.test_images.reshape(360, -1).astype(np.float32) / 255
    assert all(np.abs(test - r.ravel()).max(1).min() < 1e-6 for r in ref)
    assert len(d.reference(5000)) == 1797  # small sets: all their images, no repeats


def test_checksum_names_the_arrays():
    d = resolve_data("digits")
    assert len(d.checksum()) == 64 and d.checksum() == resolve_data("digits").checksum()
    other = ImageSet("x", d.train_images.copy(), d.train_labels, d.test_images, d.test_labels)
    other.train_images[0, 0, 0, 0] ^= 1
    assert other.checksum() != d.checksum()


def test_mnist_folder_without_test_split_holds_out_a_seventh(tmp_path):
    folder = write_mnist_folder(tmp_path / "m", n_train=70, test=False)
    d = resolve_data(f"mnist:{folder}")
    assert len(d.train_images) == 60 and len(d.test_images) == 10 and d.num_classes == 10


def test_fashion_mnist_missing_default_folder_explains_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(images_mod, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        resolve_data("fashion-mnist")


def test_fashion_mnist_accepts_a_folder(tmp_path):
    folder = write_mnist_folder(tmp_path / "fm", n_train=20, n_test=10)
    d = resolve_data(f"fashion-mnist:{folder}")
    assert d.name == "fashion-mnist" and len(d.train_images) == 20


@pytest.mark.skipif(not FASHION_INSTALLED, reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package():
    d = resolve_data("fashion-mnist")
    assert d.shape == (1, 28, 28) and len(d.train_images) == 60000 and len(d.test_images) == 10000
    assert np.bincount(d.train_labels).tolist() == [6000] * 10
    assert d.sample(8, _gen(0)).shape == (8, 1, 28, 28)


# ---------------------------------------------------------------- folders of images
def _write_png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        for i in range(10):
            _write_png(tmp_path / cls / f"{i}.png", rng.integers(0, 256, (20, 30), dtype=np.uint8))
    d = resolve_data(f"images:{tmp_path}@16")
    assert d.shape == (1, 16, 16) and d.labelled and d.num_classes == 2
    assert len(d.train_images) + len(d.test_images) == 20 and len(d.test_images) == 2
    assert d.sample(4, _gen(0)).shape == (4, 1, 16, 16)


def test_image_folder_rgb_default_size_and_no_labels(tmp_path):
    rng = np.random.default_rng(1)
    _write_png(tmp_path / "a.png", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    _write_png(tmp_path / "b.PNG", rng.integers(0, 256, (50, 40), dtype=np.uint8))
    from PIL import Image

    Image.fromarray(rng.integers(0, 256, (33, 33, 3), dtype=np.uint8)).save(tmp_path / "c.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    d = resolve_data(f"images:{tmp_path}")
    assert d.shape == (3, 32, 32) and not d.labelled and len(d.train_images) == 3


def test_image_folder_centre_crops_then_resizes(tmp_path):
    arr = np.zeros((8, 16), np.uint8)
    arr[:, 4:12] = 255  # the centre square is white, the sides black
    _write_png(tmp_path / "x.png", arr)
    d = resolve_data(f"images:{tmp_path}@8")
    assert d.train_images.min() == 255


def test_worker_processes_decode_the_same_pixels_and_say_a_bad_file_in_one_line(tmp_path):
    rng = np.random.default_rng(2)
    for i in range(12):
        _write_png(tmp_path / f"{i:02d}.png", rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    here, workers = resolve_data(f"images:{tmp_path}@8"), resolve_data(f"images:{tmp_path}@8", workers=2)
    assert np.array_equal(here.train_images, workers.train_images)
    assert np.array_equal(here.test_images, workers.test_images)
    (tmp_path / "99.png").write_bytes((tmp_path / "00.png").read_bytes()[:60])  # its header reads, its pixels not
    with pytest.raises(DataError) as e:
        resolve_data(f"images:{tmp_path}@8", workers=2)
    assert str(e.value) == f"{tmp_path / '99.png'}: not a readable image (image file is truncated)"


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no .png"):
        resolve_data(f"images:{tmp_path}")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="bad.png: not a readable image"):
        resolve_data(f"images:{tmp_path}")
    with pytest.raises(DataError, match="image folder not found"):
        resolve_data(f"images:{tmp_path / 'absent'}")
    with pytest.raises(DataError, match="needs a folder"):
        resolve_data("images")


@pytest.mark.parametrize("arg, expected", [("dir", ("dir", 32)), ("a@b/dir@28", ("a@b/dir", 28))])
def test_folder_spec(arg, expected):
    folder, size = parse_folder_spec(arg)
    assert (str(folder), size) == expected


@pytest.mark.parametrize("arg", ["dir@x", "dir@2", "dir@9999"])
def test_folder_spec_bad_size(arg):
    with pytest.raises(DataError, match="size after '@'"):
        parse_folder_spec(arg)
