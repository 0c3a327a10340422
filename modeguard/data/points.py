"""Custom point sets from .npy / .csv / .npz files, any dimension.

An ``.npz`` may carry the true mixture alongside the points (``points``, ``centers``,
``std`` and optionally ``weights``) so that mode metrics can be computed for it.
Points are standardised per dimension for training and mapped back for sampling.
"""
from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .base import Dataset, MixtureModes
from .limit import limit_indices


class PointSet(Dataset):
    """Points ``(n, d)`` in data space, trained on standardised per dimension.

    Model space is zero mean, unit standard deviation per dimension (a dimension that
    never varies keeps scale 1); ``to_data_space`` maps back. ``modes`` is the true
    mixture where the file gives one. ``reference`` returns the points themselves.
    """

    def __init__(self, points: np.ndarray, name: str, modes: MixtureModes | None = None):
        self.name = name
        self.shape = (points.shape[1],)
        self.modes = modes
        self.mean = points.mean(axis=0)
        self.scale = points.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        self._points = torch.as_tensor((points - self.mean) / self.scale, dtype=torch.float32)
        self._train = self._points  # what training draws from (fewer with a data limit)

    def limited(self, n: int, seed: int) -> "PointSet":
        """This set training on ``n`` of its points drawn with ``seed`` (indices in
        ``training_indices``); the standardisation and the reference stay the whole set's.
        Raises :class:`ConfigError` for n < 1 or n > the number of points."""
        idx = limit_indices(len(self._points), n, seed, "points")
        out = copy.copy(self)
        out._train, out.training_indices = self._points[torch.from_numpy(idx)], idx
        return out

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` points ``(n, d)`` float32 drawn with replacement, in model space."""
        idx = torch.randint(len(self._train), (n,), generator=generator)
        return self._train[idx]

    def to_data_space(self, x: torch.Tensor) -> np.ndarray:
        """Model-space ``(n, d)`` -> float64 numpy ``(n, d)`` in the points' own units."""
        return x.detach().cpu().numpy().astype(np.float64) * self.scale + self.mean

    def reference(self, n: int, seed: int = 12345) -> np.ndarray:
        """Up to ``n`` distinct points ``(m, d)`` in data space, chosen with ``seed`` (all when n >= their number)."""
        pts = self.to_data_space(self._points)
        if n >= len(pts):
            return pts
        return pts[np.random.default_rng(seed).choice(len(pts), n, replace=False)]


def _read(path: Path):
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        magic = b"\x93NUMPY" if suffix == ".npy" else b"PK"
        with open(path, "rb") as f:
            if f.read(len(magic)) != magic:
                raise DataError(f"{path} is not a NumPy {suffix} file")
    try:
        if suffix == ".npy":
            return np.load(path, allow_pickle=False), None
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "points" not in z:
                    raise DataError(f"{path}: an .npz needs an array named 'points'")
                extra = {k: z[k] for k in ("centers", "std", "weights") if k in z}
                return z["points"], extra
        if suffix in (".csv", ".txt"):
            with warnings.catch_warnings():  # an empty file warns, then fails the size check below
                warnings.simplefilter("ignore")
                return np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2), None
    except DataError:
        raise
    except Exception as e:  # numpy raises many types for corrupt files
        raise DataError(f"cannot read {path}: {type(e).__name__}: {e}".splitlines()[0]) from None
    raise DataError(f"{path}: unsupported file type '{suffix}' (use .npy, .npz or .csv)")


def load_points(path: str | Path) -> PointSet:
    """A :class:`PointSet` from a ``.npy``, ``.npz``, ``.csv`` or ``.txt`` file of shape ``(n, d)``.

    An ``.npz`` may add ``centers`` ``(K, d)``, ``std`` and ``weights`` ``(K,)`` for mode
    metrics. Raises :class:`DataError` (one line) for a missing, unreadable or malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    points, extra = _read(path)
    try:
        points = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: points must be numeric") from None
    if points.ndim != 2:
        raise DataError(f"{path}: points must be a 2-D array (n, d), got shape {points.shape}")
    if len(points) < 2 or points.shape[1] < 1:
        raise DataError(f"{path}: need at least 2 points with at least 1 dimension, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise DataError(f"{path}: points contain NaN or inf")
    modes = None
    if extra and "centers" in extra:
        centers = _numeric(path, "centers", extra["centers"])
        if centers.ndim != 2 or centers.shape[1] != points.shape[1] or len(centers) == 0:
            raise DataError(f"{path}: centers must have shape (K, {points.shape[1]}) with K >= 1")
        if "std" not in extra:
            raise DataError(f"{path}: 'centers' given without 'std'")
        w = _numeric(path, "weights", extra.get("weights", np.ones(len(centers))))
        if w.shape != (len(centers),) or np.any(w < 0) or w.sum() <= 0:
            raise DataError(f"{path}: weights must be {len(centers)} non-negative numbers")
        std = _numeric(path, "std", extra["std"]).reshape(-1)
        if std.size == 0 or not std[0] > 0:
            raise DataError(f"{path}: std must be a positive number")
        std = float(std[0])
        modes = MixtureModes(centers=centers, std=std, weights=w / w.sum())
    return PointSet(points, name=str(path), modes=modes)


def _numeric(path: Path, name: str, value) -> np.ndarray:
    """``value`` as a float64 array; DataError where it is not numbers or holds NaN/inf."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {name} must be numeric") from None
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: {name} contains NaN or inf")
    return arr
