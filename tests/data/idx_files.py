"""Writers of synthetic MNIST-format files for tests."""
import gzip
import struct
from pathlib import Path

import numpy as np

CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
         np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr)
    big = arr.astype(arr.dtype.newbyteorder(">")) if arr.dtype.itemsize > 1 else arr
    code = CODES[big.dtype]
    return struct.pack(">I", (code << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + big.tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    raw = idx_bytes(arr)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_mnist_folder(folder: Path, n_train: int = 40, n_test: int = 20, side: int = 28, gz: bool = True,
                       test: bool = True, seed: int = 0) -> Path:
    """A folder of MNIST-format files with random pixels and labels cycling through 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    splits = [("train", n_train)] + ([("t10k", n_test)] if test else [])
    for prefix, n in splits:
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, side, side), dtype=np.uint8), gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", (np.arange(n) % 10).astype(np.uint8), gz)
    return folder
