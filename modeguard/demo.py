"""``modeguard demo``: the plain GAN of the article and ModeGuard's default recipe, side by side."""
from __future__ import annotations

import shutil
from pathlib import Path

from .bench.runner import Job, run_jobs
from .config import DEFAULT_RECIPE, TrainConfig


def run_demo(out: str | Path = "runs/demo", data: str = "ring8", seed: int = 0, steps: int | None = None,
             workers: int | None = None) -> dict:
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = TrainConfig(data=data, seed=seed, steps=steps).to_dict()
    arms = {"plain GAN (--strategy none)": "none", "ModeGuard default recipe": ",".join(DEFAULT_RECIPE)}
    jobs = [Job({**base, "strategies": strat}, str(out / name), {"arm": label})
            for (label, strat), name in zip(arms.items(), ("plain", "recipe"))]
    results = run_jobs(jobs, workers=workers or 2, progress=True)
    figure = out / "demo.png"
    _side_by_side(data, [out / "plain", out / "recipe"], [r["arm"] for r in results], results, figure)
    return {"results": results, "figure": figure, "runs": [out / "plain", out / "recipe"]}


def _side_by_side(data_spec, run_dirs, titles, results, path: Path) -> None:
    import matplotlib.pyplot as plt

    from .data import resolve_data
    from .report.plots import draw_scatter
    from .train import Trainer

    data = resolve_data(data_spec)
    fig, axes = plt.subplots(1, len(run_dirs), figsize=(5 * len(run_dirs), 5))
    for ax, run_dir, title, res in zip(axes, run_dirs, titles, results):
        fake = Trainer.open(run_dir, progress=False).sample(2500, seed=0)
        draw_scatter(ax, data.reference(2500), fake, data.modes)
        if "modes" in res:
            title += f"\n{res['modes']}/{len(data.modes.centers)} modes, HQ {res['hq_pct']:.1f}%, rev-KL {res['rev_kl']:.3f}"
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
