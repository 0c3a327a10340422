"""Data sources: 2-D benchmark mixtures, point files, images, stacked images and the user's own data.

:func:`resolve_data` turns a ``--data`` spec into a :class:`Dataset` (the table of named
sources is :data:`SOURCES` in :mod:`.registry`); :func:`as_dataset` wraps in-memory data.
"""
from .base import Dataset, MixtureModes
from .images import ImageSet
from .mixtures import GaussianMixture, grid, ring
from .points import PointSet, load_points
from .registry import SOURCES, data_names, register_data, resolve_data
from .saved import load_saved_dataset, save_dataset
from .stacked import StackedImages
from .user import LabelledPoints, as_dataset, resolve_user_data

__all__ = [
    "Dataset", "GaussianMixture", "ImageSet", "LabelledPoints", "MixtureModes", "PointSet", "SOURCES",
    "StackedImages", "as_dataset", "data_names", "grid", "load_points", "load_saved_dataset", "register_data",
    "resolve_data", "resolve_user_data", "ring", "save_dataset",
]
