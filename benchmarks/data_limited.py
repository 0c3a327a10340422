"""Data-limited benchmark: where the discriminator memorises a small training set, and which
strategy keeps the generator's diversity.

Each cell trains one run (DCGAN, the data's defaults) on ``--data-limit N`` training images
drawn with the seed, for a fixed step budget, then records the evaluation against the whole
held-out split (class KL, fd_clf, precision / recall / coverage in the mode classifier's
features), D's share of images it calls real on its training images and on as many held-out
images (the gap is D memorising), ADA's p and r_t where ADA is on, and the CPU-seconds.

    python benchmarks/data_limited.py                       # Fashion-MNIST, 1k / 2k / 5k / all, 5 arms
    python benchmarks/data_limited.py --limits 1000 --arms "none|default,diffaugment" --steps 500
    python benchmarks/data_limited.py --data stacked-digits --limits 100,all --steps 20000

On a stacked set the limit applies to the base images the stacks are drawn from (and the
mode classifier is the base set's); D's real share is measured on stacks of its training
images and on stacks of held-out ones.

An arm is a strategy list where ``default`` stands for the image recipe (``default,ada`` =
the recipe + ADA). Rows are appended to ``OUT/results.csv`` as cells finish; cells already
there are skipped, so an interrupted sweep continues where it stopped. ``results.md`` and a
figure of samples per arm (rows = arms) for ``--figure-limit`` images are written at the end.
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

from modeguard.config import TrainConfig
from modeguard.data import resolve_data
from modeguard.data.images import pixels_to_model_space
from modeguard.jsonl import read_jsonl
from modeguard.metrics.classifier import mode_classifier
from modeguard.recipes import DEFAULT_KEYWORD, default_recipe
from modeguard.report.images import image_grid
from modeguard.report.mpl import plt, save_figure
from modeguard.runs import sample_run
from modeguard.strategies import parse_strategies
from modeguard.train import Callback, Trainer

from stacked import slug

#: ADA at speed_kimg=100: p can cross its range within a short run (its default, 500, takes 7,800 steps at batch 64)
ARMS = "none|default|default,diffaugment|default,ada:speed_kimg=100|default,lecam,diffaugment"
COLUMNS = ["limit", "arm", "seed", "steps", "modes", "kl", "fd_clf", "precision", "recall", "density", "coverage",
           "d_train_real", "d_heldout_real", "ada_p", "ada_rt", "cpu_s", "train_cpu_s", "error"]
#: images per side of D's real-share measurement (training images, held-out images)
SHARE_IMAGES = 2000


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--limits", default="1000,2000,5000,all", help="training images per cell, 'all' = the whole split")
    p.add_argument("--arms", default=ARMS, help="strategy lists separated by '|'; 'default' = the image recipe")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--channels", type=int, default=32, help="DCGAN width (0: the model's default, 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-samples", type=int, default=5000)
    p.add_argument("--figure-limit", default="1000", help="the data size whose samples the figure shows")
    p.add_argument("--figure", default="bench-out/data-limited/samples.png")
    p.add_argument("--out", default="bench-out/data-limited")
    return p.parse_args(argv)


def expand(arm: str, data: str) -> list[str] | str:
    """The strategy list of an arm: each ``default`` replaced by ``data``'s image recipe."""
    parts = [s.strip() for s in arm.split(",") if s.strip()]
    if parts == ["none"]:
        return "none"
    out: list[str] = []
    for s in parts:
        out.extend(default_recipe(data, "image") if s.lower() == DEFAULT_KEYWORD else [s])
    return out


def parse_limit(text: str) -> int | None:
    """``'2000'`` -> 2000, ``'all'`` -> None."""
    return None if text.strip().lower() == "all" else int(text)


@torch.no_grad()
def d_real_share(trainer: Trainer, x: torch.Tensor) -> float:
    """D's share of ``x`` (model space ``(n, C, H, W)``) it calls real, in training-size batches."""
    ctx = trainer.ctx
    bs = ctx.config.batch_size
    called = [(ctx.objective.real_score(ctx.D(x[i:i + bs].to(ctx.device))) > 0).float().sum()
              for i in range(0, len(x) - bs + 1, bs)]  # whole batches only: D may read batch statistics
    return float(torch.stack(called).sum()) / (bs * len(called))


def overfit_shares(trainer: Trainer, seed: int) -> tuple[float, float]:
    """D's real share on (up to ``SHARE_IMAGES`` of) its training images and on as many held-out ones."""
    data = trainer.ctx.data
    if getattr(data, "stacked", False):  # stacks of (limited) training images against stacks of held-out ones
        train_stacks = data.sample(SHARE_IMAGES, torch.Generator().manual_seed(seed))
        heldout = torch.from_numpy(data.reference(SHARE_IMAGES, seed=seed)).mul_(2.0).sub_(1.0)
        return d_real_share(trainer, train_stacks), d_real_share(trainer, heldout)
    train = data.train_images
    idx = getattr(data, "training_indices", None)
    if idx is not None:
        train = train[idx]
    rng = np.random.default_rng(seed)
    n = min(SHARE_IMAGES, len(train), len(data.test_images))
    pick = lambda arr: pixels_to_model_space(torch.from_numpy(  # noqa: E731
        np.ascontiguousarray(arr[np.sort(rng.choice(len(arr), n, replace=False))])))
    return d_real_share(trainer, pick(train)), d_real_share(trainer, pick(data.test_images))


def ada_readings(run_dir: Path) -> tuple[str, str]:
    """ADA's last p and the range of its r_t over the run, from metrics.jsonl ('' without ADA)."""
    rows = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "ada_p" in r]
    if not rows:
        return "", ""
    rt = [r["ada_rt"] for r in rows if "ada_rt" in r]
    return f"{rows[-1]['ada_p']:.3f}", (f"{min(rt):.2f}-{max(rt):.2f}" if rt else "")


class TrainClock(Callback):
    """The process's CPU-seconds at the start of training and after its last step (before the evaluation)."""

    def on_fit_start(self, trainer) -> None:
        self.start = self.end = time.process_time()

    def on_step_end(self, trainer) -> None:
        if trainer.ctx.step >= trainer.ctx.total_steps:
            self.end = time.process_time()


def run_cell(args, limit: int | None, arm: str, out: Path) -> dict:
    """Train and measure one (data size, arm) cell; returns its CSV row."""
    config = TrainConfig(data=args.data, strategies=expand(arm, args.data), steps=args.steps, seed=args.seed,
                         data_limit=limit, eval_samples=args.eval_samples, log_every=max(1, args.steps // 50),
                         sample_every=args.steps, ckpt_every=args.steps, keep_checkpoints=1, progress=False,
                         model="dcgan", model_options={"channels": args.channels} if args.channels else {})
    clock = TrainClock()
    t0 = time.process_time()
    trainer = Trainer(config, out, callbacks=[clock])
    result = trainer.fit()
    cpu, train_cpu = time.process_time() - t0, clock.end - clock.start
    shares = overfit_shares(trainer, args.seed)
    p, rt = ada_readings(out)
    return {**{k: result.get(k, "") for k in COLUMNS}, "d_train_real": f"{shares[0]:.3f}",
            "d_heldout_real": f"{shares[1]:.3f}", "ada_p": p, "ada_rt": rt, "cpu_s": f"{cpu:.0f}",
            "train_cpu_s": f"{train_cpu:.0f}"}


def done_cells(csv_path: Path) -> set[tuple[str, str]]:
    """(limit, arm) of the cells already in ``csv_path`` without an error."""
    if not csv_path.exists():
        return set()
    with open(csv_path, newline="") as f:
        return {(r["limit"], r["arm"]) for r in csv.DictReader(f) if not r.get("error")}


def table(rows: list[dict]) -> str:
    """The Markdown table of the CSV rows, in their order."""
    lines = ["| images | arm | modes | KL | fd_clf | precision | recall | coverage | D: training / held-out called real "
             "| ADA p (r_t) | CPU-s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['limit']} | `{r['arm']}` | failed: {r['error']} | | | | | | | | |")
            continue
        num = lambda k, fmt: format(float(r[k]), fmt) if r.get(k) not in (None, "") else "–"  # noqa: E731
        ada = f"{r['ada_p']} ({r['ada_rt']})" if r.get("ada_p") else ""
        lines.append(f"| {r['limit']} | `{r['arm']}` | {r.get('modes', '')} | {num('kl', '.3f')} | {num('fd_clf', '.1f')} | "
                     f"{num('precision', '.3f')} | {num('recall', '.3f')} | {num('coverage', '.3f')} | "
                     f"{r['d_train_real']} / {r['d_heldout_real']} | {ada} | {r['cpu_s']} |")
    return "\n".join(lines)


def samples_figure(arms: list[str], run_dirs: list[Path], path: Path, title: str, per_row: int = 16) -> Path:
    """One row of samples per arm (EMA generator where the arm has it), arm names at the left."""
    fig, axes = plt.subplots(len(arms), 1, figsize=(per_row * 0.55 + 2.2, len(arms) * 0.62 + 0.4), squeeze=False)
    for ax, arm, run_dir in zip(axes[:, 0], arms, run_dirs):
        ax.imshow(image_grid(sample_run(run_dir, per_row, seed=0), cols=per_row), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_ylabel(arm.replace(",", ",\n", 1) if len(arm) > 18 else arm, rotation=0, ha="right", va="center",
                      fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(left=0.16, right=0.99, top=0.92, bottom=0.01, hspace=0.08)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_figure(fig, path, dpi=110)


def describe(args, classifier_acc: float) -> str:
    """The paragraph above the Markdown table: what each cell ran and how it was measured."""
    width = f"width {args.channels}" if args.channels else "default width"
    lr = TrainConfig(data=args.data).for_kind("image").lr_g
    return (f"{args.data}, DCGAN {width}, batch 64, lr {lr:g} (the data's default), {args.steps} steps, seed "
            f"{args.seed}, one run per cell, {args.eval_samples} eval samples; mode classifier accuracy "
            f"{100 * classifier_acc:.2f}%; D's real share on {SHARE_IMAGES} training / held-out images (fewer "
            f"where the set is smaller); CPU-s: training + evaluation, one thread\n\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arms = [a.strip() for a in args.arms.split("|") if a.strip()]
    for arm in arms:
        if expand(arm, args.data) != "none":
            parse_strategies(expand(arm, args.data))  # fail before any run starts
    limits = [s.strip() for s in args.limits.split(",") if s.strip()]
    data = resolve_data(args.data)
    clf = mode_classifier(data.base if getattr(data, "stacked", False) else data)  # once, before the clocks start
    print(f"{len(limits) * len(arms)} cells: {args.data}, {args.steps} steps, seed {args.seed}; mode classifier "
          f"accuracy {100 * clf.accuracy:.2f}%", flush=True)
    csv_path = out / "results.csv"
    if not csv_path.exists():
        with open(csv_path, "w", newline="") as f:
            csv.DictWriter(f, COLUMNS).writeheader()
    done = done_cells(csv_path)
    run_dir = lambda limit, arm: out / "runs" / f"{limit}-{slug(arm)}"  # noqa: E731
    for limit in limits:
        for arm in arms:
            if (limit, arm) in done:
                continue
            try:
                row = run_cell(args, parse_limit(limit), arm, run_dir(limit, arm))
            except Exception as e:  # noqa: BLE001 - one failed cell is a row, the sweep goes on
                row = {"error": f"{type(e).__name__}: {e}".splitlines()[0]}
            row.update(limit=limit, arm=arm, seed=args.seed, steps=args.steps)
            with open(csv_path, "a", newline="") as f:
                csv.DictWriter(f, COLUMNS, extrasaction="ignore").writerow({k: row.get(k, "") for k in COLUMNS})
            shown = ("limit", "arm", "kl", "fd_clf", "recall", "d_train_real", "d_heldout_real", "ada_p", "cpu_s", "error")
            print({k: row[k] for k in shown if row.get(k) not in (None, "")}, flush=True)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    header = describe(args, clf.accuracy)
    (out / "results.md").write_text(header + table(rows) + "\n")
    print("\n" + header + table(rows))
    if args.figure_limit in limits:
        fig = samples_figure(arms, [run_dir(args.figure_limit, a) for a in arms], Path(args.figure),
                             f"{args.data}, {args.figure_limit} training images, {args.steps} steps, seed {args.seed}")
        print(f"figure: {fig}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
