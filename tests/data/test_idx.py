import gzip
import struct

import numpy as np
import pytest

from modeguard.data import resolve_data
from modeguard.data.idx import IMAGES_MAGIC, LABELS_MAGIC, load_idx_split, parse_idx, read_idx
from modeguard.errors import DataError

from .idx_files import idx_bytes, write_idx, write_mnist_folder


@pytest.mark.parametrize("gz", [False, True])
def test_reads_images_and_labels_raw_or_gzip(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    labels = np.array([7, 1], dtype=np.uint8)
    got = read_idx(write_idx(tmp_path / "img", images, gz), IMAGES_MAGIC)
    assert got.shape == (2, 3, 4) and np.array_equal(got, images)
    assert np.array_equal(read_idx(write_idx(tmp_path / "lab", labels, gz), LABELS_MAGIC), labels)


def test_multibyte_types_are_big_endian_and_come_back_native():
    arr = np.array([[1, -2], [300, -32768]], dtype=np.int16)
    got = parse_idx(idx_bytes(arr))
    assert got.dtype == np.int16 and got.dtype.isnative and np.array_equal(got, arr)
    f = np.array([0.5, -1.25], dtype=np.float32)
    assert np.array_equal(parse_idx(idx_bytes(f)), f)


def test_arrays_are_writable_copies():
    got = parse_idx(idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    got[0, 0, 0] = 5  # would raise on a view of the immutable file bytes
    assert got[0, 0, 0] == 5


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00", "too short"),
    (b"\x12\x34\x08\x03" + b"\x00" * 12, "wrong magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "wrong magic"),  # unknown type code
    (b"\x00\x00\x08\x03\x00\x00\x00\x01", "header cut short"),
])
def test_malformed_headers(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "f")


def test_wrong_magic_for_the_expected_kind(tmp_path):
    path = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="expected 0x00000803"):
        read_idx(path, IMAGES_MAGIC)


def test_truncated_and_trailing_bytes(tmp_path):
    raw = idx_bytes(np.zeros((3, 4, 4), np.uint8))
    (tmp_path / "short").write_bytes(raw[:-5])
    with pytest.raises(DataError, match=r"truncated: header says 3x4x4 values \(48 bytes\), file holds 43"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(raw + b"\x00")
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(tmp_path / "long")


def test_corrupt_gzip(tmp_path):
    blob = gzip.compress(idx_bytes(np.zeros((3, 4, 4), np.uint8)))
    (tmp_path / "cut.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")


def test_split_checks_counts_and_files(tmp_path):
    folder = write_mnist_folder(tmp_path / "m", n_train=12, n_test=4)
    images, labels = load_idx_split(folder, "train")
    assert images.shape == (12, 28, 28) and labels.dtype == np.int64 and list(labels[:3]) == [0, 1, 2]
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(3, np.uint8), gz=True)
    with pytest.raises(DataError, match="4 images but 3 labels"):
        load_idx_split(folder, "test")
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no train-labels-idx1-ubyte"):
        load_idx_split(folder, "train")
    with pytest.raises(DataError, match="folder not found"):
        load_idx_split(tmp_path / "absent")


def test_labels_must_be_one_dimensional(tmp_path):
    folder = write_mnist_folder(tmp_path / "m", n_train=4, test=False)
    raw = struct.pack(">I", 0x0802) + struct.pack(">2I", 4, 1) + bytes(4)  # (4, 1) labels
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    with pytest.raises(DataError, match="wrong magic number 0x00000802, expected 0x00000801"):
        load_idx_split(folder)


def test_mnist_spec_reads_a_folder_and_needs_one(tmp_path):
    folder = write_mnist_folder(tmp_path / "mine", n_train=30, n_test=10, side=28, gz=False)
    data = resolve_data(f"mnist:{folder}")
    assert data.shape == (1, 28, 28) and data.kind == "image"
    assert len(data.train_images) == 30 and len(data.test_images) == 10
    with pytest.raises(DataError, match="mnist:DIR"):
        resolve_data("mnist")
    with pytest.raises(DataError, match="not found"):
        resolve_data(f"mnist:{tmp_path / 'absent'}")
