"""Data sources: 2-D benchmark mixtures, custom point sets, and (by registration) images."""
from .base import Dataset, MixtureModes, data_names, register_data, resolve_data
from .mixtures import GaussianMixture, grid, ring
from .points import PointSet, load_points

__all__ = [
    "Dataset", "MixtureModes", "GaussianMixture", "PointSet", "data_names", "grid",
    "load_points", "register_data", "resolve_data", "ring",
]
