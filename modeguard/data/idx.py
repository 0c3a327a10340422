"""Reader for the IDX format of MNIST and its look-alikes (Fashion-MNIST, KMNIST, ...).

An IDX file is a big-endian header followed by raw values::

    0x00 0x00 <type code> <ndim>   then ndim big-endian uint32 sizes, then the values

MNIST's images are ``0x00000803`` (unsigned bytes, 3 dims: n, rows, cols) and its labels
``0x00000801`` (unsigned bytes, 1 dim: n). Files may be gzip-compressed (``.gz``).
Every check raises :class:`~modeguard.errors.DataError` naming the file.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError

#: IDX type code -> numpy dtype (multi-byte types are big-endian)
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

#: standard MNIST file stems per split (a ``.gz`` suffix is optional; some copies use a dot
#: before ``idx``, e.g. ``train-images.idx3-ubyte``)
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(f"IDX file not found: {path}")
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None


def parse_idx(raw: bytes, name: str = "IDX data", expect_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into an array of the header's dtype and shape.

    ``expect_magic`` (e.g. :data:`IMAGES_MAGIC`) also fixes the type code and dimension count.
    """
    if len(raw) < 4:
        raise DataError(f"{name}: too short for an IDX header ({len(raw)} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    zero, code, ndim = magic >> 16, (magic >> 8) & 0xFF, magic & 0xFF
    if zero != 0 or code not in IDX_TYPES or ndim == 0:
        raise DataError(f"{name}: wrong magic number 0x{magic:08x}, not an IDX file")
    if expect_magic is not None and magic != expect_magic:
        raise DataError(f"{name}: wrong magic number 0x{magic:08x}, expected 0x{expect_magic:08x}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: header cut short (needs {header} bytes, file has {len(raw)})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataError(f"{name}: {what}: header says {'x'.join(map(str, dims))} values "
                        f"({expected} bytes), file holds {got} bytes")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx(path: str | Path, expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed)."""
    path = Path(path)
    return parse_idx(_read_bytes(path), str(path), expect_magic)


def find_idx_file(directory: Path, stem: str) -> Path:
    """The file for ``stem`` in ``directory``: ``stem``, ``stem.gz`` or the dotted variant."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise DataError(f"{directory}: no {stem}[.gz] (an MNIST-format folder holds "
                    f"train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...)")


def load_idx_split(directory: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Images ``(n, rows, cols)`` uint8 and labels ``(n,)`` int64 of one split of an MNIST-format folder."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"MNIST-format folder not found: {directory}")
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split '{split}'; choose one of {', '.join(SPLIT_FILES)}")
    image_stem, label_stem = SPLIT_FILES[split]
    images_path, labels_path = find_idx_file(directory, image_stem), find_idx_file(directory, label_stem)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{directory}: {split} split has {len(images)} images but {len(labels)} labels")
    if len(images) == 0 or min(images.shape[1:]) == 0:
        raise DataError(f"{images_path}: holds no images (shape {images.shape})")
    return images, labels.astype(np.int64)
