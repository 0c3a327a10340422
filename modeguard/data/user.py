"""The user's own data as a ModeGuard :class:`~modeguard.data.base.Dataset`.

:func:`as_dataset` wraps what people already hold in memory:

- a torch tensor or NumPy array ``(n, d)``: a point set (kind ``"points"``), trained on
  standardised per dimension and mapped back to the user's units when sampled;
- a tensor or array ``(n, C, H, W)``: images (kind ``"image"``) with values in [0, 1],
  [-1, 1] or 0..255 (uint8 or not); model space is [-1, 1], data space [0, 1];
- a ``torch.utils.data.Dataset`` (or any sequence) yielding samples, or ``(x, label)``
  pairs: the samples are stacked as above, and integer labels are kept as classes (image
  sets with labels get the mode classifier's metrics; point sets keep ``labels``).

:func:`resolve_user_data` turns ``package.module:NAME`` or ``file.py:NAME`` into data by
calling ``NAME()`` (or taking ``NAME`` itself when it is not callable) and wrapping it.
Every rejection is one :class:`~modeguard.errors.DataError` line.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..refs import load_object, split_ref
from .base import Dataset
from .images import ImageSet, holdout_split
from .points import PointSet

#: fraction of user images held out as the test split (reference data, classifier accuracy)
IMAGE_HOLDOUT = 0.1
#: channel counts that a trailing axis of this size suggests a channels-last layout
_CHANNELS_LAST_HINT = (1, 3, 4)
#: data resolved from references, by (reference, id of the named object): the trainer, healing
#: and doctor resolve the same reference and must see the same data without calling NAME() again
_RESOLVED: dict[tuple[str, int], tuple[Any, Dataset]] = {}


class LabelledPoints(PointSet):
    """A :class:`PointSet` whose points may carry integer class labels.

    points: ``(n, d)`` float64 in the user's units (kept as ``points``, so a saved copy
    standardises exactly alike); labels: ``(n,)`` int64 or None. ``num_classes`` is
    ``labels.max() + 1`` (None without labels).
    """

    def __init__(self, points: np.ndarray, name: str, labels: np.ndarray | None = None):
        super().__init__(points, name=name)
        self.points = points
        self.labels = labels
        self.num_classes = int(labels.max()) + 1 if labels is not None else None

    @property
    def labelled(self) -> bool:
        """True when the points carry labels of at least 2 classes."""
        return self.labels is not None and (self.num_classes or 0) >= 2


def _as_array(x: Any, name: str, what: str = "data") -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype == torch.bfloat16:  # numpy has no bfloat16
            x = x.float()
        return x.numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise DataError(f"{name}: {what} is not an array of numbers ({str(e).splitlines()[0]})") from None
    return arr


def _check_numeric(arr: np.ndarray, name: str) -> None:
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise DataError(f"{name}: data must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 0 or len(arr) == 0:
        raise DataError(f"{name}: data is empty (shape {arr.shape})")
    if arr.size == 0:
        raise DataError(f"{name}: data has a zero-sized axis (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        raise DataError(f"{name}: data contains NaN or inf")


def image_pixels(images: np.ndarray, name: str) -> np.ndarray:
    """Images ``(n, C, H, W)`` in [0, 1], [-1, 1] or 0..255 -> uint8 pixels ``(n, C, H, W)``.

    uint8 arrays are taken as they are; other dtypes are read by their range (all values
    in [0, 1] -> times 255; in [-1, 1] -> ``(x + 1) * 127.5``; in [0, 255] -> rounded).
    Raises :class:`DataError` for any other range.
    """
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    lo, hi = float(images.min()), float(images.max())
    x = images.astype(np.float64)
    if lo >= 0.0 and hi <= 1.0:
        x = x * 255.0
    elif lo >= -1.0 and hi <= 1.0:
        x = (x + 1.0) * 127.5
    elif not (lo >= 0.0 and hi <= 255.0):
        raise DataError(f"{name}: image values span {lo:.4g}..{hi:.4g}; scale them to [0, 1], [-1, 1] or 0..255")
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _check_labels(labels: Any, n: int, name: str) -> np.ndarray:
    arr = _as_array(labels, name, "labels")
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer) or (n and arr.min() < 0):
        raise DataError(f"{name}: labels must be {n} non-negative integers (n,), got dtype {arr.dtype} "
                        f"shape {arr.shape}")
    return arr.astype(np.int64)


def _images(arr: np.ndarray, labels: np.ndarray | None, name: str) -> ImageSet:
    c = arr.shape[1]
    if c > 4 and arr.shape[-1] in _CHANNELS_LAST_HINT:
        raise DataError(f"{name}: images of shape {arr.shape[1:]} look channels-last; pass (n, C, H, W)")
    pixels = image_pixels(arr, name)
    train, test = holdout_split(len(pixels), IMAGE_HOLDOUT)
    if labels is None:
        return ImageSet(name, pixels[train], None, pixels[test], None)
    num_classes = int(labels.max()) + 1
    return ImageSet(name, pixels[train], labels[train], pixels[test], labels[test], num_classes=num_classes)


def _points(arr: np.ndarray, labels: np.ndarray | None, name: str) -> LabelledPoints:
    if len(arr) < 2:
        raise DataError(f"{name}: need at least 2 points, got {len(arr)}")
    return LabelledPoints(arr.astype(np.float64), name, labels)


def from_array(x: Any, name: str = "data", labels: Any = None) -> Dataset:
    """A Dataset from a tensor or array: ``(n, d)`` -> points, ``(n, C, H, W)`` -> images.

    labels: optional ``(n,)`` non-negative integers (classes). Raises :class:`DataError`
    for empty, non-numeric or non-finite data, another number of axes, or bad labels.
    """
    arr = _as_array(x, name)
    _check_numeric(arr, name)
    if arr.ndim not in (2, 4):
        hint = "; add a channel axis for images (n, 1, H, W)" if arr.ndim == 3 else ""
        raise DataError(f"{name}: data must be points (n, d) or images (n, C, H, W), got shape {arr.shape}{hint}")
    label_arr = None if labels is None else _check_labels(labels, len(arr), name)
    return _points(arr, label_arr, name) if arr.ndim == 2 else _images(arr, label_arr, name)


def _is_label(y: Any) -> bool:
    if isinstance(y, torch.Tensor):
        return y.numel() == 1 and not y.is_floating_point() and y.dtype != torch.bool
    if isinstance(y, np.ndarray):
        return y.size == 1 and np.issubdtype(y.dtype, np.integer)
    return isinstance(y, numbers.Integral) and not isinstance(y, bool)


def _split_item(item: Any, i: int, name: str) -> tuple[Any, Any]:
    """One item of a user dataset -> (sample, label or None)."""
    if isinstance(item, (tuple, list)):
        if len(item) == 1:
            return item[0], None
        if len(item) == 2:
            if not _is_label(item[1]):
                raise DataError(f"{name}: item {i} is a pair whose label is not an integer class "
                                f"({type(item[1]).__name__}); yield x or (x, int label)")
            return item[0], int(item[1])
        raise DataError(f"{name}: item {i} is a {len(item)}-tuple; yield x or (x, label)")
    return item, None


def _collect(items, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack a sequence of samples or (sample, label) pairs into (n, ...) and (n,) or None."""
    xs, ys = [], []
    for i, item in enumerate(items):
        x, y = _split_item(item, i, name)
        x = _as_array(x, name, f"item {i}")
        if xs and x.shape != xs[0].shape:
            raise DataError(f"{name}: item {i} has shape {x.shape} but item 0 has {xs[0].shape}")
        if ys and (y is None) != (ys[0] is None):
            raise DataError(f"{name}: item {i} {'lacks' if y is None else 'has'} a label, unlike item 0")
        xs.append(x)
        ys.append(y)
    if not xs:
        raise DataError(f"{name}: the dataset is empty")
    labels = None if ys[0] is None else np.asarray(ys, dtype=np.int64)
    return np.stack(xs), labels


def _items(data: Any, name: str):
    if isinstance(data, torch.utils.data.IterableDataset):
        return iter(data)
    try:
        n = len(data)
    except TypeError:
        raise DataError(f"{name}: a {type(data).__name__} has no length; give a map-style Dataset, "
                        f"a tensor or an array") from None
    return (data[i] for i in range(n))


def as_dataset(data: Any, name: str = "data", labels: Any = None) -> Dataset:
    """Wrap the user's data as a :class:`Dataset` ModeGuard trains, samples and evaluates on.

    data: a ModeGuard Dataset (returned as it is); a torch tensor or NumPy array ``(n, d)``
    (points) or ``(n, C, H, W)`` (images); or a ``torch.utils.data.Dataset`` / sequence
    yielding samples or ``(sample, int label)`` pairs. name: what the set is called (runs
    record it). labels: ``(n,)`` classes for tensor / array data. Returns a point set
    (:class:`LabelledPoints`) or an :class:`~modeguard.data.images.ImageSet`. Raises
    :class:`DataError` (one line) for empty, non-numeric, non-finite or ill-shaped data.
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (torch.Tensor, np.ndarray)):
        return from_array(data, name, labels)
    if labels is not None:
        raise DataError(f"{name}: labels= goes with tensor or array data; a Dataset yields (x, label) pairs")
    if isinstance(data, (torch.utils.data.Dataset, list, tuple)):
        x, y = _collect(_items(data, name), name)
        return from_array(x, name, y)
    raise DataError(f"{name}: cannot use a {type(data).__name__} as data; give a tensor, a NumPy array "
                    f"or a torch Dataset")


def resolve_user_data(ref: str) -> Dataset:
    """Data named by ``package.module:NAME`` or ``file.py:NAME``, wrapped by :func:`as_dataset`.

    ``NAME`` is called with no arguments when it is callable (else used as it is), once per
    process and version of its file; the Dataset is named ``ref``. Raises
    :class:`~modeguard.errors.ConfigError` for a bad reference and :class:`DataError` when
    calling ``NAME`` fails or returns unusable data.
    """
    obj = load_object(ref, callable_=False)
    key = (ref, id(obj))
    if key in _RESOLVED:
        return _RESOLVED[key][1]
    named = obj
    if callable(obj) and not isinstance(obj, (torch.Tensor, np.ndarray, torch.utils.data.Dataset)):
        try:
            obj = obj()
        except Exception as e:  # user code may raise anything
            text = str(e).strip().splitlines()
            raise DataError(f"{ref}: calling {split_ref(ref)[1]}() failed: {type(e).__name__}"
                            f"{': ' + text[0] if text else ''}") from None
    dataset = as_dataset(obj, name=ref)
    _RESOLVED[key] = (named, dataset)  # holding the object keeps its id from being reused
    return dataset
