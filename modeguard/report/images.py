"""Sample grids for image data: the trainer's periodic snapshots, final_samples.png, and the
PNG that ``modeguard sample`` writes beside its .npy.

:func:`grid_figure` is the sample figure of the ``"image"`` data kind; the registry of
sample figures per kind lives in :mod:`modeguard.report.plots`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .mpl import plt, save_figure

#: samples a titled grid figure shows at most
GRID_SAMPLES = 100
#: small grids (8x8 digits) are upscaled to about this many pixels a side, so they are visible
MIN_PNG_SIDE = 480


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile images (n, C, H, W) in [0, 1] into one picture: (rows*(H+pad)+pad, cols*(W+pad)+pad)
    for 1 channel, with a trailing RGB axis for 3 channels (other counts show channel 0).
    Padding is white; empty cells at the end are white too."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (n, C, H, W) array, got shape {images.shape}")
    n, c, h, w = images.shape
    if c != 3:
        images, c = images[:, :1], 1
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.ones((c, rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top:top + h, left:left + w] = images[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def _upscale(grid: np.ndarray) -> np.ndarray:
    # whole-pixel repeats keep digits crisp (no interpolation)
    factor = max(1, MIN_PNG_SIDE // max(grid.shape[:2]))
    return grid.repeat(factor, axis=0).repeat(factor, axis=1)


def save_grid_png(images: np.ndarray, path: str | Path, cols: int | None = None) -> Path:
    """Write a bare PNG grid (no axes) of ``images`` (n, C, H, W) in [0, 1] to ``path``.

    Creates the parent folder; returns the path. Raises ``ValueError`` as :func:`image_grid` does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = _upscale(image_grid(images, cols))
    plt.imsave(path, grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0)
    return path


def grid_figure(data, samples, path: Path, title: str = "") -> None:
    """Write a titled grid of the first ``GRID_SAMPLES`` of ``samples`` to ``path``.

    ``samples`` are in ``data``'s model space (n, C, H, W); ``data.to_data_space`` maps them
    to images in [0, 1]. The figure's title is the data's name and ``title``.
    """
    images = data.to_data_space(samples[:GRID_SAMPLES])
    grid = image_grid(images)
    fig = plt.figure(figsize=(6, 6 * grid.shape[0] / grid.shape[1] + 0.4))
    ax = fig.add_axes((0, 0, 1, 0.94))
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(f"{data.name}  {title}".strip(), fontsize=10)
    save_figure(fig, path, dpi=100)
