"""The one matplotlib set-up of the package: every module that draws imports ``plt`` from here.

It selects the non-interactive Agg backend before ``pyplot`` is first imported (ModeGuard
draws into files on machines without a display) and holds the few drawing defaults the
figures share, so no plotting module configures matplotlib itself.
"""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402  (after the backend is chosen)
import matplotlib.pyplot as plt  # noqa: E402

#: resolution of the PNGs the reports embed and the snapshots the trainer writes
REPORT_DPI = 90

__all__ = ["REPORT_DPI", "figure_png", "mpimg", "plt", "save_figure"]


def figure_png(fig, dpi: int = REPORT_DPI) -> bytes:
    """Render ``fig`` as PNG bytes and close it (a figure left open leaks memory in long runs)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def save_figure(fig, path: str | Path, dpi: int = REPORT_DPI) -> Path:
    """Write ``fig`` to ``path`` (format from its suffix), close it, and return the path."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
