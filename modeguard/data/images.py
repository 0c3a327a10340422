"""Image data sets: MNIST-format IDX folders, scikit-learn's 8x8 digits, folders of PNG/JPEG.

Specs (``--data``):

- ``digits``: scikit-learn's 1,797 8x8 digits (1 channel), offline. 80/20 stratified split.
- ``mnist:DIR``: any folder of MNIST-format files (``train-images-idx3-ubyte[.gz]``,
  ``train-labels-idx1-ubyte[.gz]`` and, if present, the ``t10k-...`` test split).
- ``fashion-mnist[:DIR]``: the same reader; DIR defaults to where the Debian package
  ``dataset-fashion-mnist`` installs the files, ``/usr/share/datasets/fashion-mnist``.
- ``images:DIR`` or ``images:DIR@SIZE``: every .png/.jpg/.jpeg under DIR, centre-cropped to
  a square and resized to SIZE x SIZE (default 32). One channel if every image is grey,
  else RGB. Images in sub-folders are labelled by sub-folder name (one class per folder).
  Decoded once, when the set is loaded: in this process, or by ``workers`` worker
  processes of a ``torch.utils.data.DataLoader`` (``--loader-workers N``; same pixels).

Every image set keeps its pixels as uint8 ``(N, C, H, W)``. Model space is [-1, 1] (what a
tanh generator emits); data space is float32 numpy in [0, 1].
"""
from __future__ import annotations

import copy
import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from ..errors import DataError
from .base import Dataset
from .idx import SPLIT_FILES, find_idx_file, load_idx_split
from .limit import limit_indices

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
DEFAULT_IMAGE_SIZE = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def to_unit_range(x: torch.Tensor) -> np.ndarray:
    """Model-space images in [-1, 1] -> float32 numpy in [0, 1] (clipped)."""
    return np.clip((x.detach().float().cpu().numpy() + 1.0) * 0.5, 0.0, 1.0).astype(np.float32, copy=False)


def pixels_to_model_space(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1]."""
    return pixels.float().mul_(2.0 / 255.0).sub_(1.0)


class ImageSet(Dataset):
    """Labelled (or unlabelled) images with a train split (sampled for training) and a
    held-out test split (for the mode classifier's accuracy and as reference data).

    train_images / test_images: uint8 ``(N, C, H, W)``; labels: int64 ``(N,)`` or None;
    num_classes: inferred from the labels when not given. Raises :class:`DataError` when
    the train images are not a non-empty uint8 ``(N, C, H, W)`` array.
    """

    kind = "image"

    def __init__(self, name: str, train_images: np.ndarray, train_labels: np.ndarray | None,
                 test_images: np.ndarray, test_labels: np.ndarray | None, num_classes: int | None = None):
        if train_images.ndim != 4 or train_images.dtype != np.uint8 or len(train_images) == 0:
            raise DataError(f"{name}: images must be a non-empty uint8 (N, C, H, W) array")
        self.name = name
        self.shape = tuple(int(s) for s in train_images.shape[1:])
        self.train_images, self.train_labels = train_images, train_labels
        self.test_images, self.test_labels = test_images, test_labels
        if num_classes is None and train_labels is not None:
            num_classes = int(max(train_labels.max(), test_labels.max() if len(test_labels) else 0)) + 1
        self.num_classes = num_classes
        self._pixels = torch.from_numpy(np.ascontiguousarray(train_images))
        self._checksum: str | None = None

    @property
    def labelled(self) -> bool:
        """True when the images carry class labels of at least 2 classes (mode metrics apply)."""
        return self.train_labels is not None and (self.num_classes or 0) >= 2

    @property
    def train_size(self) -> int:
        """The number of images training draws from (after ``limited``)."""
        return len(self._pixels)

    def pixels(self, idx: torch.Tensor) -> torch.Tensor:
        """The training images at ``idx`` (``0 <= idx < train_size``): uint8 ``(len(idx), C, H, W)``."""
        return self._pixels[idx]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` train images ``(n, C, H, W)`` float32 in [-1, 1], drawn with replacement."""
        idx = torch.randint(len(self._pixels), (n,), generator=generator)
        return pixels_to_model_space(self._pixels[idx])

    def limited(self, n: int, seed: int) -> "ImageSet":
        """This set training on ``n`` of its train images drawn with ``seed`` (their indices
        in ``training_indices``); the held-out split and the arrays the mode classifier
        learns from stay whole. Raises :class:`ConfigError` for n < 1 or n > the train split."""
        idx = limit_indices(len(self.train_images), n, seed, "images")
        out = copy.copy(self)
        out._pixels = self._pixels[torch.from_numpy(idx)]
        out.training_indices = idx
        return out

    def to_data_space(self, x: torch.Tensor) -> np.ndarray:
        """Model-space images ``(n, C, H, W)`` in [-1, 1] -> float32 numpy in [0, 1]."""
        return to_unit_range(x)

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """Up to ``n`` distinct real images in [0, 1]: the test split when it is big enough,
        else train and test together (so small sets give fewer than ``n``)."""
        pool = self.test_images if len(self.test_images) >= n else np.concatenate(
            [self.train_images, self.test_images])
        idx = np.random.default_rng(seed).permutation(len(pool))[:n]
        return pool[np.sort(idx)].astype(np.float32) / 255.0

    def checksum(self) -> str:
        """sha256 of the pixel and label arrays (names the mode classifier's cache file)."""
        if self._checksum is None:
            h = hashlib.sha256()
            for arr in (self.train_images, self.train_labels, self.test_images, self.test_labels):
                if arr is None:
                    h.update(b"none")
                    continue
                arr = np.ascontiguousarray(arr)
                h.update(f"{arr.dtype.str}{arr.shape}".encode())
                h.update(arr.tobytes())
            self._checksum = h.hexdigest()
        return self._checksum


def holdout_split(n: int, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train_idx, test_idx) with ``fraction`` of ``n`` held out."""
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * fraction)) if n >= 10 else 0
    return np.sort(perm[k:]), np.sort(perm[:k])


# ---------------------------------------------------------------- MNIST-format folders
@functools.lru_cache(maxsize=4)
def _read_mnist_folder(directory: str, stamp: tuple) -> tuple:
    train_x, train_y = load_idx_split(directory, "train")
    test_x, test_y = None, None
    try:
        find_idx_file(Path(directory), SPLIT_FILES["test"][0])
        has_test = True
    except DataError:
        has_test = False
    if has_test:
        test_x, test_y = load_idx_split(directory, "test")
        if test_x.shape[1:] != train_x.shape[1:]:
            raise DataError(f"{directory}: test images are {test_x.shape[1:]} but train images are "
                            f"{train_x.shape[1:]}")
    else:  # no t10k files: hold out 1/7 of train, like MNIST's 10k of 70k
        tr, te = holdout_split(len(train_x), 1 / 7)
        train_x, train_y, test_x, test_y = train_x[tr], train_y[tr], train_x[te], train_y[te]
    if train_x.dtype != np.uint8:
        raise DataError(f"{directory}: images must be unsigned bytes (IDX type 0x08)")
    arrays = (train_x[:, None], train_y, test_x[:, None], test_y)
    return arrays


def load_mnist_format(directory: str | Path, name: str) -> ImageSet:
    """An :class:`ImageSet` from a folder of MNIST-format IDX files (read once per process)."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise DataError(f"{name}: MNIST-format folder not found: {directory}")
    stamp = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()
                         if p.is_file()))
    train_x, train_y, test_x, test_y = _read_mnist_folder(str(directory.resolve()), stamp)
    return ImageSet(name, train_x, train_y, test_x, test_y)


def mnist_source(arg: str | None = None) -> ImageSet:
    """``--data mnist:DIR``: the MNIST-format folder ``DIR``."""
    if not arg:
        raise DataError("data 'mnist' needs a folder of MNIST-format files: --data mnist:DIR")
    return load_mnist_format(arg, "mnist")


def load_fashion_mnist(directory: str | Path | None = None) -> ImageSet:
    """Fashion-MNIST from ``directory`` (default: the Debian package's folder)."""
    if directory is None and not Path(FASHION_MNIST_DIR).is_dir():
        raise DataError(f"fashion-mnist: {FASHION_MNIST_DIR} not found; install the Debian package "
                        f"(apt-get install dataset-fashion-mnist) or give --data fashion-mnist:DIR")
    return load_mnist_format(directory or FASHION_MNIST_DIR, "fashion-mnist")


def fashion_mnist_source(arg: str | None = None) -> ImageSet:
    """``--data fashion-mnist[:DIR]``: Fashion-MNIST from ``DIR`` or the Debian package's folder."""
    return load_fashion_mnist(arg or None)


# ---------------------------------------------------------------- scikit-learn digits
@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple:
    from sklearn.datasets import load_digits  # lazy: scikit-learn costs ~1 s at start
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # values are 0..16; spread them over the byte range like every other image set
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = digits.target.astype(np.int64)
    tr_x, te_x, tr_y, te_y = train_test_split(images, labels, test_size=0.2, random_state=0, stratify=labels)
    arrays = (tr_x, tr_y, te_x, te_y)
    return arrays


def load_digits_set() -> ImageSet:
    """scikit-learn's 8x8 digits: 1,437 train and 360 test images, 10 classes."""
    return ImageSet("digits", *_digits_arrays(), num_classes=10)


def digits_source(arg: str | None = None) -> ImageSet:
    """``--data digits``: scikit-learn's 8x8 digits (takes no argument)."""
    if arg:
        raise DataError(f"data 'digits' takes no argument, got 'digits:{arg}'")
    return load_digits_set()


# ---------------------------------------------------------------- folders of PNG / JPEG
def parse_folder_spec(arg: str | None) -> tuple[Path, int]:
    """``DIR`` or ``DIR@SIZE`` -> (folder, size)."""
    if not arg:
        raise DataError("data 'images' needs a folder: --data images:DIR or images:DIR@SIZE")
    folder, at, size = arg.rpartition("@")
    if not at:
        return Path(arg).expanduser(), DEFAULT_IMAGE_SIZE
    if not size.isdigit() or not 4 <= int(size) <= 512:
        raise DataError(f"images:{arg}: size after '@' must be an integer from 4 to 512, got '{size}'")
    return Path(folder).expanduser(), int(size)


def _open_square(path: Path, size: int, grey: bool) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im = im.convert("L" if grey else "RGB")
    except (OSError, ValueError, SyntaxError) as e:  # PIL signals broken files with all three
        raise DataError(f"{path}: not a readable image ({e})") from None
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if grey else arr.transpose(2, 0, 1)


def _is_grey(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            return im.mode in ("1", "L", "LA", "I", "I;16", "F")
    except (OSError, ValueError, SyntaxError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None


class _FolderImages(TorchDataset):
    """The files of an image folder as uint8 squares, one per index (what decode workers read)."""

    def __init__(self, files: list[Path], size: int, grey: bool):
        self.files, self.size, self.grey = files, size, grey

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:
        return _open_square(self.files[i], self.size, self.grey)


#: images a decode worker hands back at a time
DECODE_BATCH = 64


def decode_images(files: list[Path], size: int, grey: bool, workers: int = 0) -> np.ndarray:
    """``files`` as uint8 ``(N, C, size, size)`` squares, in order; decoded in this process
    (``workers=0``) or by ``workers`` processes of a DataLoader. :class:`DataError` for an
    unreadable file."""
    if workers <= 0:
        return np.stack([_open_square(p, size, grey) for p in files])
    loader = DataLoader(_FolderImages(files, size, grey), batch_size=DECODE_BATCH, num_workers=workers,
                        collate_fn=np.stack, generator=torch.Generator().manual_seed(0))
    try:
        return np.concatenate(list(loader))
    except DataError as e:  # raised again here with the worker's traceback: keep the line it said
        said = str(e).strip().splitlines()[-1].partition("DataError: ")[2]
        raise DataError(said or str(e).strip().splitlines()[0]) from None


def load_image_folder(folder: str | Path, size: int = DEFAULT_IMAGE_SIZE, workers: int = 0) -> ImageSet:
    """Every PNG/JPEG under ``folder``, as ``size`` x ``size`` squares; 10% held out (seeded).
    ``workers``: processes that decode the files (0: this one; the pixels are the same)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no .png, .jpg or .jpeg files")
    grey = all(_is_grey(p) for p in files)
    images = decode_images(files, size, grey, workers)
    classes = sorted({p.relative_to(folder).parts[0] for p in files if len(p.relative_to(folder).parts) > 1})
    labels = None
    if len(classes) >= 2 and all(len(p.relative_to(folder).parts) > 1 for p in files):
        index = {c: i for i, c in enumerate(classes)}
        labels = np.array([index[p.relative_to(folder).parts[0]] for p in files], dtype=np.int64)
    tr, te = holdout_split(len(images), 0.1)
    return ImageSet(f"images:{folder}", images[tr], None if labels is None else labels[tr], images[te],
                    None if labels is None else labels[te], num_classes=len(classes) if labels is not None else None)


def image_folder_source(arg: str | None = None, workers: int = 0) -> ImageSet:
    """``--data images:DIR[@SIZE]``: every PNG/JPEG under ``DIR`` as SIZE x SIZE squares
    (decoded by ``workers`` processes where given)."""
    folder, size = parse_folder_spec(arg)
    return load_image_folder(folder, size, workers)
