"""Does the default recipe keep every mode on mixtures it was not tuned on?

Writes a few mixtures as ``.npz`` point sets (points + true centres/std/weights), trains the
default recipe on each through ``--data PATH`` (the generic step count), and prints a
Markdown table of modes / HQ % / rev-KL next to what real samples of the same mixture score
(in d dimensions "within 3 std" holds for fewer real samples than in 2-D).

    python benchmarks/custom_mixtures.py --seeds 2 --out benchmarks/results/custom
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from modeguard.bench.runner import Job, run_jobs
from modeguard.config import TrainConfig
from modeguard.metrics import mode_coverage


def mixtures(rng: np.random.Generator) -> dict[str, tuple]:
    ring6 = 3.0 * np.array([[math.cos(a), math.sin(a)] for a in 2 * math.pi * np.arange(6) / 6])
    grid9 = np.array([(x, y) for x in (-1, 0, 1) for y in (-1, 0, 1)], dtype=float)
    ring8 = np.array([[math.cos(a), math.sin(a)] for a in 2 * math.pi * np.arange(8) / 8])
    centers5d = rng.uniform(-2, 2, size=(10, 5))
    return {
        "ring6-r3-std0.03": (ring6, 0.03, None),
        "grid9-spacing1-std0.02": (grid9, 0.02, None),
        "ring8-unequal-weights": (ring8, 0.01, np.array([8, 4, 2, 1, 1, 1, 1, 2], dtype=float)),
        "10-modes-in-5d-std0.05": (centers5d, 0.05, None),
    }


def write_npz(path: Path, centers, std, weights, n: int, rng) -> np.ndarray:
    w = np.full(len(centers), 1 / len(centers)) if weights is None else weights / weights.sum()
    idx = rng.choice(len(centers), n, p=w)
    points = centers[idx] + std * rng.standard_normal((n, centers.shape[1]))
    extra = {} if weights is None else {"weights": w}
    np.savez(path, points=points, centers=centers, std=np.array(std), **extra)
    return points


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default="benchmarks/results/custom")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    jobs, reference = [], {}
    for name, (centers, std, weights) in mixtures(rng).items():
        path = out / f"{name}.npz"
        points = write_npz(path, centers, std, weights, 20000, rng)
        ref = mode_coverage(points[:2500], centers, std, weights)
        reference[name] = ref
        for seed in range(args.seeds):
            cfg = TrainConfig(data=str(path), seed=seed, steps=args.steps, sample_every=10**9, ckpt_every=10**9)
            jobs.append(Job(cfg.to_dict(), None, {"mixture": name, "seed": seed, "k": len(centers)}))
    results = run_jobs(jobs, workers=args.workers)
    lines = ["| mixture | modes (per seed) | HQ % (per seed) | rev-KL (per seed) | real data: HQ % / rev-KL | s/run |",
             "|---|---|---|---|---|---|"]
    for name in reference:
        rs = [r for r in results if r["mixture"] == name and "error" not in r]
        k = rs[0]["k"] if rs else "?"
        ref = reference[name]
        modes = ", ".join(f"{r['modes']}/{k}" for r in rs)
        hq = ", ".join(f"{r['hq_pct']:.1f}" for r in rs)
        kl = ", ".join(f"{r['rev_kl']:.3f}" for r in rs)
        secs = np.mean([r["seconds"] for r in rs]) if rs else float("nan")
        lines.append(f"| {name} | {modes} | {hq} | {kl} | {ref['hq_pct']:.1f} / {ref['rev_kl']:.3f} | {secs:.0f} |")
    for r in results:
        if "error" in r:
            lines.append(f"\nfailed: {r['mixture']} seed {r['seed']}: {r['error']}")
    table = "\n".join(lines) + "\n"
    (out / "results.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
