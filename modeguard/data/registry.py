"""Every data source by name, in one explicit table, and :func:`resolve_data`.

``--data`` takes a name from :data:`SOURCES` (``ring8``, ``name:arg``), a point file
(``.npy``, ``.npz``, ``.csv``, ``.txt``) or a reference to user code
(``package.module:NAME`` or ``file.py:NAME``, see :mod:`.user`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import DataError
from ..refs import is_ref
from .base import Dataset
from .images import digits_source, fashion_mnist_source, image_folder_source, mnist_source
from .mixtures import grid25_source, ring8_source
from .points import load_points
from .saved import saved_source
from .stacked import stacked_digits_source, stacked_fashion_mnist_source, stacked_mnist_source
from .user import resolve_user_data

#: ``source(arg) -> Dataset`` for ``--data name`` (arg None) or ``--data name:arg``
Source = Callable[[str | None], Dataset]

SOURCES: dict[str, Source] = {
    "ring8": ring8_source,
    "grid25": grid25_source,
    "digits": digits_source,
    "mnist": mnist_source,
    "fashion-mnist": fashion_mnist_source,
    "images": image_folder_source,
    "stacked-digits": stacked_digits_source,
    "stacked-mnist": stacked_mnist_source,
    "stacked-fashion-mnist": stacked_fashion_mnist_source,
    "saved": saved_source,
}

POINT_FILE_SUFFIXES = (".npy", ".npz", ".csv", ".txt")


def register_data(name: str) -> Callable[[Source], Source]:
    """Decorator: add ``source(arg) -> Dataset`` to :data:`SOURCES` under ``name`` (for extensions)."""

    def deco(source: Source) -> Source:
        SOURCES[name] = source
        return source

    return deco


def data_names() -> list[str]:
    """The names ``--data`` accepts, sorted."""
    return sorted(SOURCES)


def resolve_data(spec: str, workers: int = 0) -> Dataset:
    """Turn ``ring8``, ``name:arg``, a point file path or a code reference into a :class:`Dataset`.
    ``workers``: processes that decode an image folder (``images:DIR``; 0: this process).

    Raises :class:`DataError` (one line) for an unknown name or missing file, and what the
    source raises (:class:`DataError`, or :class:`~modeguard.errors.ConfigError` for a bad
    code reference).
    """
    if not isinstance(spec, str) or not spec or not spec.isprintable():
        raise DataError(f"data must be a name, a path or package.module:NAME on one line, got {spec!r}")
    name, _, arg = spec.partition(":")
    if name == "images" and workers > 0 and SOURCES[name] is image_folder_source:
        return image_folder_source(arg or None, workers)
    if name in SOURCES:
        return SOURCES[name](arg or None)
    path = Path(spec)
    if path.suffix.lower() in POINT_FILE_SUFFIXES or path.exists():
        return load_points(path)
    if is_ref(spec):
        return resolve_user_data(spec)
    raise DataError(f"unknown data '{spec}': not one of {', '.join(data_names())}, no such file, "
                    f"and not package.module:NAME or file.py:NAME")
