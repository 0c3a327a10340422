"""Does the default recipe keep every mode on mixtures it was not tuned on?

Writes a few mixtures as ``.npz`` point sets (points + true centres/std/weights), trains the
default recipe on each through ``--data PATH`` (the generic step count), and prints a
Markdown table of modes / HQ % / rev-KL next to what real samples of the same mixture score
(in d dimensions "within 3 std" holds for fewer real samples than in 2-D).

Imbalanced mixtures (one mode 10x, 30x or 50x rarer than the rest) are judged by per-mode
recall against the true weights: mode i's recall is its share of the HQ samples over its
true weight, so 1.0 is a mode sampled exactly as often as the data holds it; the table
gives the rarest mode's recall and the smallest over all modes. A mode counts as kept when
its recall is at least ``KEPT_RECALL``. Evaluations use ``EVAL_SAMPLES`` samples so that a
rare mode (under 0.5 % of the mass) still expects dozens of samples.

    python benchmarks/custom_mixtures.py --seeds 2 --out benchmarks/results/custom
    python benchmarks/custom_mixtures.py --only rare --strategies "r1:gamma=0.1,..." --steps 12000
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import time

import torch

from modeguard.config import TrainConfig
from modeguard.metrics import mode_coverage
from modeguard.train import Trainer

#: a mode is kept when it gets at least this fraction of its true share of the HQ samples
KEPT_RECALL = 0.25
EVAL_SAMPLES = 10000


def mixtures(rng: np.random.Generator) -> dict[str, tuple]:
    ring6 = 3.0 * np.array([[math.cos(a), math.sin(a)] for a in 2 * math.pi * np.arange(6) / 6])
    grid9 = np.array([(x, y) for x in (-1, 0, 1) for y in (-1, 0, 1)], dtype=float)
    ring8 = np.array([[math.cos(a), math.sin(a)] for a in 2 * math.pi * np.arange(8) / 8])
    centers5d = rng.uniform(-2, 2, size=(10, 5))
    rare_grid = np.ones(9)
    rare_grid[4] = 0.1  # the centre mode: boxed in by its neighbours, the easiest to drop
    rare_ring = np.ones(8)
    rare_ring[0] = 1 / 30
    rare_corner = np.ones(9)
    rare_corner[0] = 1 / 50  # a corner mode: one neighbour fewer to bridge from than the centre
    return {
        "ring6-r3-std0.03": (ring6, 0.03, None),
        "grid9-spacing1-std0.02": (grid9, 0.02, None),
        "ring8-unequal-weights": (ring8, 0.01, np.array([8, 4, 2, 1, 1, 1, 1, 2], dtype=float)),
        "10-modes-in-5d-std0.05": (centers5d, 0.05, None),
        "grid9-rare-centre-1in10": (grid9, 0.02, rare_grid),
        "ring8-rare-1in30": (ring8, 0.01, rare_ring),
        "grid9-rare-corner-1in50": (grid9, 0.02, rare_corner),  # last: the earlier sets' data stay fixed
    }


def per_mode_recall(counts, weights, k: int) -> np.ndarray:
    """Mode i's share of the HQ samples over its true weight (K,); 1.0 = sampled as often as
    the data holds it, 0 = lost. ``counts``: HQ samples per mode; ``weights``: None = equal."""
    counts = np.asarray(counts, dtype=np.float64)
    w = np.full(k, 1 / k) if weights is None else np.asarray(weights, dtype=np.float64) / np.sum(weights)
    return counts / max(counts.sum(), 1.0) / w


def recall_summary(counts, weights, k: int) -> dict:
    """``kept`` modes (recall >= KEPT_RECALL), the rarest mode's recall and the smallest recall."""
    recall = per_mode_recall(counts, weights, k)
    rarest = int(np.argmin(weights)) if weights is not None else int(np.argmin(recall))
    return {"kept": int((recall >= KEPT_RECALL).sum()), "rarest_recall": float(recall[rarest]),
            "min_recall": float(recall.min())}


def train_one(path: Path, seed: int, strategies, steps, lr) -> dict:
    """Train one run on the point set at ``path`` in this process; its final evaluation
    (per-mode counts kept) and the training CPU seconds."""
    torch.set_num_threads(1)
    cfg = TrainConfig(data=str(path), seed=seed, steps=steps, strategies=strategies, lr_g=lr, lr_d=lr,
                      device="cpu", threads=1, progress=False, eval_samples=EVAL_SAMPLES, log_every=10**9)
    c0 = time.process_time()
    result = Trainer(cfg, None).fit()
    return {**result, "seconds": time.process_time() - c0}


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
    ap.add_argument("--first-seed", type=int, default=0, help="seeds FIRST .. FIRST + SEEDS - 1")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--strategies", default="default", help="recipe to train (default: the point default)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--only", default=None, help="only mixtures whose name contains this")
    ap.add_argument("--out", default="benchmarks/results/custom")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    results, reference = [], {}
    for name, (centers, std, weights) in mixtures(rng).items():
        path = out / f"{name}.npz"
        points = write_npz(path, centers, std, weights, 20000, rng)  # every mixture draws, so data stay fixed
        if args.only and args.only not in name:
            continue
        ref = mode_coverage(points[:EVAL_SAMPLES], centers, std, weights)
        reference[name] = {**ref, **recall_summary(ref["counts"], weights, len(centers))}
        for seed in range(args.first_seed, args.first_seed + args.seeds):  # one process at a time
            r = train_one(path, seed, args.strategies, args.steps, args.lr)
            results.append({"mixture": name, "seed": seed, "k": len(centers), **r,
                            **recall_summary(r["counts"], weights, len(centers))})
            print(name, seed, {k: results[-1][k] for k in ("modes", "hq_pct", "rev_kl", "kept", "rarest_recall")},
                  flush=True)
    table = results_table(reference, results, args)
    (out / "results.md").write_text(table)
    print(table)


def results_table(reference: dict, results: list[dict], args) -> str:
    """The Markdown table: per mixture, per seed modes / kept / rarest recall / HQ / rev-KL."""
    lines = [f"recipe: `{args.strategies}`, steps: {args.steps or 'default'}, lr: {args.lr or 'default'}, "
             f"{EVAL_SAMPLES} samples per evaluation; kept = modes with recall >= {KEPT_RECALL}", "",
             "| mixture | modes (per seed) | kept (per seed) | rarest mode's recall (per seed) | HQ % (per seed) "
             "| rev-KL (per seed) | real data: HQ % / rev-KL / rarest recall | CPU-s/run |",
             "|---|---|---|---|---|---|---|---|"]
    for name, ref in reference.items():
        rs = [r for r in results if r["mixture"] == name]
        k = rs[0]["k"] if rs else "?"

        def per_seed(fmt, key):
            return ", ".join(fmt.format(r[key]) for r in rs)

        secs = np.mean([r["seconds"] for r in rs]) if rs else float("nan")
        lines.append(f"| {name} | {per_seed('{}/' + str(k), 'modes')} | {per_seed('{}/' + str(k), 'kept')} "
                     f"| {per_seed('{:.2f}', 'rarest_recall')} | {per_seed('{:.1f}', 'hq_pct')} "
                     f"| {per_seed('{:.3f}', 'rev_kl')} | {ref['hq_pct']:.1f} / {ref['rev_kl']:.3f} / "
                     f"{ref['rarest_recall']:.2f} | {secs:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
