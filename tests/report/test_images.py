"""report.images: image grids."""
import numpy as np
import pytest

from modeguard.report.images import MIN_PNG_SIDE, image_grid, save_grid_png
from modeguard.report.mpl import mpimg


def test_grid_layout_padding_and_channels():
    imgs = np.zeros((5, 1, 4, 3), dtype=np.float32)
    grid = image_grid(imgs, cols=2)
    assert grid.shape == (3 * 5 + 1, 2 * 4 + 1)
    assert grid[0].min() == 1.0 and grid[1, 1] == 0.0  # white padding around black images
    assert grid[-5:-1, -4:-1].min() == 1.0  # the sixth cell is empty: white
    rgb = image_grid(np.full((4, 3, 2, 2), 0.5))
    assert rgb.shape == (2 * 3 + 1, 2 * 3 + 1, 3)
    assert image_grid(np.full((1, 2, 2, 2), 3.0)).max() == 1.0  # clipped, 2 channels show the first


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="non-empty"):
        image_grid(np.zeros((0, 1, 4, 4)))
    with pytest.raises(ValueError):
        image_grid(np.zeros((4, 4)))


def test_small_grids_are_upscaled(tmp_path):
    path = save_grid_png(np.zeros((4, 1, 8, 8)), tmp_path / "sub" / "g.png")
    h, w = mpimg.imread(path).shape[:2]
    assert h == w and MIN_PNG_SIDE // 2 < h <= MIN_PNG_SIDE + 19
