"""report.mpl: the one matplotlib set-up."""
import matplotlib

from modeguard.report.mpl import REPORT_DPI, figure_png, plt, save_figure

PNG = b"\x89PNG\r\n\x1a\n"


def test_backend_is_agg_and_figures_are_closed(tmp_path):
    assert matplotlib.get_backend().lower() == "agg"
    before = set(plt.get_fignums())
    fig = plt.figure(figsize=(2, 1))
    png = figure_png(fig)
    assert png[:8] == PNG and set(plt.get_fignums()) == before
    fig = plt.figure(figsize=(2, 1))
    path = save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:8] == PNG and set(plt.get_fignums()) == before


def test_dpi_sets_the_pixel_size():
    small = plt.figure(figsize=(2, 1))
    big = plt.figure(figsize=(2, 1))
    # PNG width is bytes 16-20 of the header
    width = lambda png: int.from_bytes(png[16:20], "big")  # noqa: E731
    assert width(figure_png(small)) == 2 * REPORT_DPI and width(figure_png(big, dpi=2 * REPORT_DPI)) == 4 * REPORT_DPI
