"""In-memory user data written into a run, so a fresh process can reopen the run.

Data given to the Python API as a tensor, array or torch Dataset has no ``--data`` spec
to record; :func:`save_dataset` writes it as one ``.npz`` (no pickles) and
``--data saved:PATH`` (:func:`load_saved_dataset`) rebuilds the very same Dataset: the
same points (so the same standardisation), the same image split and labels.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import DataError
from .base import Dataset
from .images import ImageSet
from .user import LabelledPoints

FORMAT_VERSION = 1
_IMAGE_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


def _arrays_of(data: Dataset) -> dict[str, np.ndarray]:
    if isinstance(data, LabelledPoints):
        arrays = {"kind": np.array("points"), "points": data.points}
        if data.labels is not None:
            arrays["labels"] = data.labels
        return arrays
    if isinstance(data, ImageSet):
        arrays = {"kind": np.array("image")}
        arrays.update({k: getattr(data, k) for k in _IMAGE_ARRAYS if getattr(data, k) is not None})
        if data.num_classes is not None:
            arrays["num_classes"] = np.array(data.num_classes)
        return arrays
    raise DataError(f"{data.name}: only in-memory point and image sets are saved; this one has a --data spec")


def save_dataset(data: Dataset, path: str | Path) -> Path:
    """Write ``data`` (a :class:`LabelledPoints` or :class:`ImageSet`) to ``path`` as ``.npz``, atomically.

    Returns ``path``. Raises :class:`DataError` for other kinds of Dataset (they are named
    by a spec) and ``OSError`` when the file cannot be written.
    """
    arrays = {"version": np.array(FORMAT_VERSION), "name": np.array(data.name), **_arrays_of(data)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = Path(path)
    atomic_write_bytes(path, lambda f: f.write(buffer.getvalue()))
    return path


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"saved data not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e).strip().splitlines()
        raise DataError(f"{path}: not a saved data set ({type(e).__name__}"
                        f"{': ' + reason[0] if reason else ''})") from None


def load_saved_dataset(path: str | Path, name: str | None = None) -> Dataset:
    """The Dataset :func:`save_dataset` wrote to ``path`` (named ``name``, default as saved).

    Raises :class:`DataError` (one line) for a missing, corrupt or foreign file.
    """
    path = Path(path)
    arrays = _read(path)
    if int(arrays.get("version", -1)) != FORMAT_VERSION or "kind" not in arrays:
        raise DataError(f"{path}: not a saved data set of format {FORMAT_VERSION}")
    name = name or str(arrays.get("name", path))
    kind = str(arrays["kind"])
    if kind == "points" and "points" in arrays:
        return LabelledPoints(arrays["points"].astype(np.float64), name, arrays.get("labels"))
    if kind == "image" and "train_images" in arrays and "test_images" in arrays:
        num_classes = int(arrays["num_classes"]) if "num_classes" in arrays else None
        return ImageSet(name, arrays["train_images"], arrays.get("train_labels"), arrays["test_images"],
                        arrays.get("test_labels"), num_classes=num_classes)
    raise DataError(f"{path}: saved data of kind '{kind}' lacks its arrays")


def saved_source(arg: str | None = None) -> Dataset:
    """``--data saved:PATH``: a data set :func:`save_dataset` wrote."""
    if not arg:
        raise DataError("data 'saved' needs a file: --data saved:PATH")
    return load_saved_dataset(Path(arg).expanduser())
