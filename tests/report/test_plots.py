"""report.plots: sample figures per data kind."""
import numpy as np
import torch

from modeguard.data import resolve_data
from modeguard.report.images import grid_figure
from modeguard.report.mpl import plt
from modeguard.report.plots import SAMPLE_FIGURES, draw_scatter, save_samples_figure


def test_image_kind_draws_grids_and_points_draw_scatter_plots(tmp_path):
    assert SAMPLE_FIGURES["image"] is grid_figure
    data = resolve_data("ring8")
    path = save_samples_figure(data, torch.randn(50, 2), tmp_path / "new" / "s.png", "step 5")
    assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"


def test_scatter_draws_real_fake_and_centres():
    data = resolve_data("ring8")
    fig, ax = plt.subplots()
    draw_scatter(ax, np.zeros((10, 2)), np.ones((7, 2)), data.modes)
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [10, 7, 8]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["real", "generated", "mode centres"]
    plt.close(fig)
