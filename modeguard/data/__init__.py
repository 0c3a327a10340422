"""Data sources: 2-D benchmark mixtures, custom point sets, and (by registration) images."""
from .base import Dataset, MixtureModes, data_names, register_data, resolve_data
from .mixtures import GaussianMixture, grid, ring
from .points import PointSet, load_points
from . import images, stacked  # noqa: E402,F401  (registers the image and stacked sources)
from .images import ImageSet
from .stacked import StackedImages

__all__ = [
    "Dataset", "ImageSet", "MixtureModes", "GaussianMixture", "PointSet", "StackedImages", "data_names", "grid",
    "load_points", "register_data", "resolve_data", "ring",
]
