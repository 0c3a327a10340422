"""A trained run's evaluation generator against the average of its last K checkpoints' ones.

Loads each kept checkpoint of RUN_DIR (newest K), takes the generator the run samples from
(the EMA copy where the run has ``ema``), averages their weights (buffers too: batch-norm
statistics), and evaluates the newest one, the plain G of the newest checkpoint and the
average on the same latents (``-n`` samples, seed 0), without modeguard's other metrics.

    python benchmarks/checkpoint_average.py runs/stacked-seed0 -k 3 -n 26000
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

from modeguard.metrics.evaluate import evaluate_samples
from modeguard.train import Trainer
from modeguard.train.sampling import draw_samples


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("-k", type=int, default=3, help="newest checkpoints averaged")
    p.add_argument("-n", type=int, default=26000, help="samples evaluated")
    return p.parse_args(argv)


def averaged(modules: list[torch.nn.Module]) -> torch.nn.Module:
    """A copy of the last module with every floating-point tensor of its state the mean over ``modules``."""
    states = [m.state_dict() for m in modules]
    mean = {k: (torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v)
            for k, v in states[-1].items()}
    out = copy.deepcopy(modules[-1])
    out.load_state_dict(mean)
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    checkpoints = sorted((Path(args.run_dir) / "checkpoints").glob("step-*.pt"))[-args.k:]
    trainers = [Trainer.open(args.run_dir, checkpoint=str(c), progress=False) for c in checkpoints]
    ctx = trainers[-1].ctx
    generators = {"newest (as evaluated)": trainers[-1].eval_generator(), "newest, plain G": ctx.G,
                  f"average of {len(checkpoints)}": averaged([t.eval_generator() for t in trainers])}
    print(f"{args.run_dir}: checkpoints {', '.join(c.stem for c in checkpoints)}; {args.n} samples")
    for name, G in generators.items():
        x = draw_samples(G, args.n, ctx.spec.z_dim, ctx.device, ctx.autocast, 0)
        r = evaluate_samples(ctx.data, ctx.data.to_data_space(x), prdc=False)
        print(f"{name}: KL {r['kl']:.4f}, modes {int(r['modes'])}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
