"""``modeguard demo``: the plain GAN of the article and ModeGuard's default recipe, side by side."""
from __future__ import annotations

import shutil
from pathlib import Path

from .bench.runner import Job, run_jobs
from .config import DEFAULT_KEYWORD, TrainConfig
from .data import resolve_data
from .report.mpl import plt, save_figure
from .report.plots import draw_scatter
from .train import Trainer

__all__ = ["run_demo"]

#: (label, --strategy value, folder) of the two arms
ARMS = (("plain GAN (--strategy none)", "none", "plain"),
        ("ModeGuard default recipe", DEFAULT_KEYWORD, "recipe"))
#: samples drawn for each scatter plot
DEMO_SAMPLES = 2500


def run_demo(out: str | Path = "runs/demo", data: str = "ring8", seed: int = 0, steps: int | None = None,
             workers: int | None = None) -> dict:
    """Train the plain GAN and the default recipe on ``data`` (same seed, steps, batch size and
    learning rate: the data's defaults, so the recipe arm is ``modeguard train --data DATA``) into
    ``out/plain`` and ``out/recipe`` and draw both side by side into ``out/demo.png``.

    ``out`` is emptied first. Returns ``{"results": [one result dict per arm], "figure":
    path of the picture, "runs": [the two run folders]}``. Raises what training raises
    (:class:`~modeguard.errors.ConfigError` for a bad ``data`` or ``steps``).
    """
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = TrainConfig(data=data, seed=seed, steps=steps).to_dict()
    jobs = [Job({**base, "strategies": strategies}, str(out / folder), {"arm": label})
            for label, strategies, folder in ARMS]
    results = run_jobs(jobs, workers=workers or 2, progress=True)
    runs = [out / folder for _, _, folder in ARMS]
    figure = out / "demo.png"
    side_by_side(data, runs, [r["arm"] for r in results], results, figure)
    return {"results": results, "figure": figure, "runs": runs}


def side_by_side(data_spec: str, run_dirs: list[Path], titles: list[str], results: list[dict], path: Path) -> None:
    """One scatter plot per run (its final generator's samples over real data), titled with
    its mode count, HQ share and reverse KL where ``results`` has them, into ``path``."""
    data = resolve_data(data_spec)
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(5 * len(run_dirs), 5))
    for ax, run_dir, title, res in zip(axes, run_dirs, titles, results):
        fake = Trainer.open(run_dir, progress=False).sample(DEMO_SAMPLES, seed=0)
        draw_scatter(ax, data.reference(DEMO_SAMPLES), fake, data.modes)
        if "modes" in res:
            title += (f"\n{res['modes']}/{len(data.modes.centers)} modes, HQ {res['hq_pct']:.1f}%, "
                      f"rev-KL {res['rev_kl']:.3f}")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
