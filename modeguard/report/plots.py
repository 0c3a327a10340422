"""Pictures of samples: scatter plots for point data, image grids for image data.

:data:`SAMPLE_FIGURES` maps a data kind to its figure; a kind it does not name gets the
scatter plot. Register another kind by adding to it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .images import grid_figure
from .mpl import plt, save_figure

__all__ = ["SAMPLE_FIGURES", "draw_scatter", "save_samples_figure", "scatter_figure"]


def save_samples_figure(data, samples: torch.Tensor, path: Path, title: str = "") -> Path:
    """Draw ``samples`` (model space, (n, ...)) of ``data`` with its kind's figure into ``path``.

    Creates the parent folder and returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE_FIGURES.get(data.kind, scatter_figure)(data, samples, path, title)
    return path


def scatter_figure(data, samples: torch.Tensor, path: Path, title: str = "") -> None:
    """Generated points (first two dimensions) over real points and the true centres, into ``path``.

    ``samples`` are in model space (n, D); as many real points are drawn from ``data``.
    """
    fake = data.to_data_space(samples)
    real = data.reference(len(fake))
    draw_scatter(ax := plt.figure(figsize=(5, 5)).gca(), real, fake, data.modes)
    ax.set_title(f"{data.name}  {title}".strip())
    ax.figure.tight_layout()
    save_figure(ax.figure, path)


def draw_scatter(ax, real: np.ndarray, fake: np.ndarray, modes=None) -> None:
    """Scatter ``real`` (n, D) in grey and ``fake`` (m, D) in orange on ``ax``, with the mode
    centres of ``modes`` (a :class:`~modeguard.data.MixtureModes`) as crosses.

    Uses the first two columns (the only one twice for 1-D data); equal axes, a legend.
    """
    ax.scatter(real[:, 0], real[:, -1 if real.shape[1] < 2 else 1], s=3, c="#9aa5b1", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, -1 if fake.shape[1] < 2 else 1], s=3, c="#d9480f", alpha=0.6, label="generated")
    if modes is not None and modes.centers.shape[1] >= 2:
        ax.scatter(modes.centers[:, 0], modes.centers[:, 1], marker="x", s=30, c="k", label="mode centres")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)


#: data kind -> ``fn(data, samples_model_space, path, title)``; unnamed kinds get the scatter plot
SAMPLE_FIGURES: dict = {"image": grid_figure}
