"""Pictures of samples: scatter plots for point data; image kinds register their own."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

#: data kind -> ``fn(data, samples_model_space, path, title)``
SAMPLE_FIGURES: dict = {}


def save_samples_figure(data, samples: torch.Tensor, path: Path, title: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE_FIGURES.get(data.kind, scatter_figure)(data, samples, path, title)
    return path


def scatter_figure(data, samples: torch.Tensor, path: Path, title: str = "") -> None:
    """Generated points (first two dimensions) over real points and the true centres."""
    fake = data.to_data_space(samples)
    real = data.reference(len(fake))
    draw_scatter(ax := plt.figure(figsize=(5, 5)).gca(), real, fake, data.modes)
    ax.set_title(f"{data.name}  {title}".strip())
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=90)
    plt.close(ax.figure)


def draw_scatter(ax, real: np.ndarray, fake: np.ndarray, modes=None) -> None:
    ax.scatter(real[:, 0], real[:, -1 if real.shape[1] < 2 else 1], s=3, c="#9aa5b1", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, -1 if fake.shape[1] < 2 else 1], s=3, c="#d9480f", alpha=0.6, label="generated")
    if modes is not None and modes.centers.shape[1] >= 2:
        ax.scatter(modes.centers[:, 0], modes.centers[:, 1], marker="x", s=30, c="k", label="mode centres")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)


from . import images as _images  # noqa: E402,F401  (registers the "image" sample grid)
