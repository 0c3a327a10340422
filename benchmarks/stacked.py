"""Stacked 1000-mode benchmark: the plain GAN vs strategy sets, over seeds, with a DCGAN.

Protocol (VEEGAN / PacGAN's Stacked MNIST, on the 8x8 scikit-learn digits by default):
three random digits stacked as colour channels give 1000 modes; after training, 26,000
samples are labelled channel by channel with ModeGuard's mode classifier; ``modes`` counts
the distinct label triples and ``kl`` is KL(generated triple histogram || uniform 1/1000).

    python benchmarks/stacked.py --sets "r1:gamma=1,ema|pacgan" --seeds 5
    python benchmarks/stacked.py --data stacked-mnist:/data/mnist --steps 20000 --device cuda

Prints a Markdown table (mean ± std over seeds) and writes ``results.csv`` / ``results.md``
(rows appended as runs finish) and each run's directory (sample grids, eval.json) under --out.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

from modeguard.bench.runner import Job, run_jobs
from modeguard.config import TrainConfig, is_default_recipe
from modeguard.data import resolve_data
from modeguard.metrics.classifier import mode_classifier
from modeguard.strategies import parse_strategies

PLAIN = "none"
COLUMNS = ["strategies", "seed", "steps", "modes", "kl", "fd_clf", "precision", "recall", "coverage",
           "classifier_acc", "seconds", "error"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default="default|pacgan",
                   help="strategy sets separated by '|' ('default' = the image recipe); the plain GAN ('none') "
                        "is added first unless --skip-plain")
    p.add_argument("--skip-plain", action="store_true", help="do not add the plain GAN (e.g. when it was run before)")
    p.add_argument("--data", default="stacked-digits")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="seeds run are first-seed .. first-seed + seeds - 1")
    p.add_argument("--steps", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--channels", type=int, default=32, help="DCGAN width (ModelSpec.channels)")
    p.add_argument("--z-dim", type=int, default=64)
    p.add_argument("--eval-samples", type=int, default=26000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA only)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--out", default="bench-out/stacked")
    return p.parse_args(argv)


def slug(strategies: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in strategies)


def build_jobs(args) -> tuple[list[str], list[Job]]:
    sets = [s.strip() for s in args.sets.split("|") if s.strip()]
    sets = [s for s in sets if s != PLAIN]
    if not args.skip_plain:
        sets = [PLAIN, *sets]
    jobs = []
    for strategies in sets:
        if not is_default_recipe(strategies):
            parse_strategies(strategies)  # fail before any run starts
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            config = TrainConfig(data=args.data, model="dcgan", strategies=strategies, steps=args.steps,
                                 batch_size=args.batch_size, lr_g=args.lr, lr_d=args.lr, seed=seed,
                                 device=args.device, amp=args.amp, eval_samples=args.eval_samples,
                                 log_every=max(1, args.steps // 50), sample_every=max(1, args.steps // 5),
                                 ckpt_every=args.steps, keep_checkpoints=1,
                                 model_options={"channels": args.channels, "z_dim": args.z_dim})
            config.resolve()
            out = Path(args.out) / "runs" / f"{slug(strategies)}-seed{seed}"
            jobs.append(Job(config.to_dict(), str(out), {"strategies": strategies, "seed": seed,
                                                           "steps": args.steps}))
    return sets, jobs


def mean_std(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(float(np.mean(values)), fmt)} ± {format(float(np.std(values, ddof=1)), fmt)}"


def table(sets: list[str], results: list[dict], num_modes: int) -> str:
    lines = [f"| strategies | runs | modes (of {num_modes}) | KL | fd_clf | recall | seconds / run |",
             "|---|---|---|---|---|---|---|"]
    for s in sets:
        ok = [r for r in results if r.get("strategies") == s and "error" not in r]
        failed = sum(1 for r in results if r.get("strategies") == s and "error" in r)
        runs = f"{len(ok)}" + (f" ({failed} failed)" if failed else "")
        col = lambda k: [float(r[k]) for r in ok if k in r and math.isfinite(float(r[k]))]  # noqa: E731
        lines.append(f"| `{s}` | {runs} | {mean_std(col('modes'), '.1f')} | {mean_std(col('kl'), '.3f')} | "
                     f"{mean_std(col('fd_clf'), '.1f')} | {mean_std(col('recall'), '.3f')} | "
                     f"{mean_std(col('seconds'), '.0f')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = resolve_data(args.data)
    if not getattr(data, "stacked", False):
        print(f"{args.data} is not a stacked set (use stacked-digits, stacked-mnist:DIR, ...)", file=sys.stderr)
        return 2
    # train (or load) the mode classifier once here, not in every worker at the same time
    clf = mode_classifier(data.base)
    sets, jobs = build_jobs(args)
    print(f"{len(jobs)} runs: {args.data}, dcgan width {args.channels}, {args.steps} steps, batch "
          f"{args.batch_size}, {args.seeds} seed(s); mode classifier accuracy {100 * clf.accuracy:.2f}%", flush=True)
    csv_path = out / "results.csv"
    with open(csv_path, "w", newline="") as f:
        csv.DictWriter(f, COLUMNS).writeheader()

    def append(row: dict) -> None:
        with open(csv_path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS, extrasaction="ignore").writerow({k: row.get(k, "") for k in COLUMNS})
        if "error" in row:
            print(f"failed: {row['strategies']} seed {row['seed']}: {row['error']}", flush=True)
        else:
            print(f"{row['strategies']} seed {row['seed']}: modes {row['modes']}, KL {row['kl']:.3f}, "
                  f"fd_clf {row['fd_clf']:.1f}, {row['seconds']:.0f} s", flush=True)

    t0 = time.perf_counter()
    results = run_jobs(jobs, workers=args.workers, progress=False, on_result=append)
    md = table(sets, results, data.num_modes)
    header = (f"{args.data}, DCGAN width {args.channels}, z {args.z_dim}, {args.steps} steps, batch "
              f"{args.batch_size}, lr {args.lr}, {args.eval_samples} eval samples, mode classifier "
              f"accuracy {100 * clf.accuracy:.2f}%; mean ± std over seeds; one torch thread per run\n\n")
    (out / "results.md").write_text(header + md + "\n")
    print()
    print(header + md)
    print(f"\nresults: {csv_path}  {out / 'results.md'}  ({time.perf_counter() - t0:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
