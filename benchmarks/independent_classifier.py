"""Stacked runs' modes and KL by ModeGuard's classifier and by an independent one, over several draws.

ModeGuard's mode classifier is a small CNN (``modeguard.metrics.classifier``). The
independent one is scikit-learn's RBF support-vector machine on raw pixels: another model
family, trained on the same train split of the base set (at most ``--svc-images`` images,
drawn with seed 0). Each run is sampled ``--draws`` times (``-n`` samples, latent seeds
0, 1, ...), and both classifiers label every channel of the same samples, so the two KLs
differ only by the classifiers.

Two more columns say where a KL above the floor comes from: the per-channel imbalance (the
sum over channels of KL(class shares || uniform), :func:`modeguard.metrics.stacked.channel_balance`)
by each classifier, and the share of channels ModeGuard's classifier reads with a top
probability below 0.9 (real digits: a few percent).

Two reference rows are drawn the same way: stacks of the base set's held-out test split and
of its train split (what the generator learns from). The multinomial floor
``(modes - 1) / (2 n)`` is what a perfect generator scores on average at ``n`` samples.

    python benchmarks/independent_classifier.py RUN_DIR [RUN_DIR ...] --draws 5 -n 26000 \
        --out benchmarks/results/stacked-digits-classifiers
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from modeguard.metrics.classifier import mode_classifier
from modeguard.metrics.stacked import channel_balance, stacked_mode_metrics
from modeguard.train import Trainer


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="run directories of one stacked data set")
    p.add_argument("-n", type=int, default=26000, help="samples per draw")
    p.add_argument("--draws", type=int, default=5, help="draws per run (latent seeds 0..draws-1)")
    p.add_argument("--svc-images", type=int, default=10000, help="most base images the SVM trains on")
    p.add_argument("--out", default=None, help="write OUT.md and OUT.csv")
    return p.parse_args(argv)


class IndependentClassifier:
    """An RBF SVM (C=10, gamma='scale') on the base set's raw pixels in [0, 1]."""

    def __init__(self, base, max_images: int):
        from sklearn.svm import SVC

        x, y = base.train_images, base.train_labels
        if len(x) > max_images:
            keep = np.random.default_rng(0).choice(len(x), max_images, replace=False)
            x, y = x[keep], y[keep]
        self.svm = SVC(C=10.0, gamma="scale").fit(self._flat(x), y)
        self.accuracy = float((self.svm.predict(self._flat(base.test_images)) == base.test_labels).mean())

    @staticmethod
    def _flat(images: np.ndarray) -> np.ndarray:
        """(n, 1, H, W) uint8 or [0, 1] floats -> (n, H * W) floats in [0, 1]."""
        images = np.asarray(images)
        x = images.reshape(len(images), -1).astype(np.float32)
        return x / 255.0 if images.dtype == np.uint8 else x

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.svm.predict(self._flat(images))


def channel_images(stacks: np.ndarray) -> np.ndarray:
    """(n, C, H, W) stacks -> (n * C, 1, H, W): every channel an image of its own."""
    return stacks.reshape(-1, 1, *stacks.shape[2:])


def channel_labels(predict, stacks: np.ndarray) -> np.ndarray:
    """(n, C, H, W) stacks in [0, 1] -> (n, C) labels, each channel classified alone."""
    return np.asarray(predict(channel_images(stacks))).reshape(stacks.shape[:2])


def score(stacks: np.ndarray, classifiers: dict, num_classes: int, confidence=None) -> dict:
    """Modes, KL and its per-channel class-imbalance part (``kl_channels``) of ``stacks`` by
    each classifier; with ``confidence`` (images -> top class probability), the share of
    channels read with probability below 0.9 (``unsure``)."""
    out = {}
    for name, predict in classifiers.items():
        labels = channel_labels(predict, stacks)
        m = stacked_mode_metrics(labels, num_classes)
        out[f"modes_{name}"], out[f"kl_{name}"] = m["modes"], m["kl"]
        out[f"kl_channels_{name}"] = channel_balance(labels, num_classes)["kl_channels"]
    if confidence is not None:
        out["unsure_cnn"] = float((confidence(channel_images(stacks)) < 0.9).mean())
    return out


def draws_of(sample, draws: int) -> list[np.ndarray]:
    """``sample(seed)`` for seeds 0..draws-1."""
    return [np.asarray(sample(seed), dtype=np.float32) for seed in range(draws)]


def summarise(label: str, scores: list[dict]) -> dict:
    """Mean and spread of each figure over the draws."""
    row: dict = {"source": label, "draws": len(scores)}
    for key in scores[0]:
        values = np.array([s[key] for s in scores], dtype=np.float64)
        row[f"{key}_mean"], row[f"{key}_std"] = float(values.mean()), float(values.std())
        row[f"{key}_min"], row[f"{key}_max"] = float(values.min()), float(values.max())
    return row


def markdown(rows: list[dict], notes: list[str]) -> str:
    head = ("| source | modes (ModeGuard) | KL (ModeGuard) | KL (SVM) | KL range (ModeGuard) | "
            "draws at KL <= 0.03 (ModeGuard / SVM) | per-channel imbalance (ModeGuard / SVM) | unsure channels |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['source']} | {r['modes_cnn_mean']:.0f} | {r['kl_cnn_mean']:.4f} ± {r['kl_cnn_std']:.4f} "
            f"| {r['kl_svm_mean']:.4f} ± {r['kl_svm_std']:.4f} | {r['kl_cnn_min']:.4f}-{r['kl_cnn_max']:.4f} "
            f"| {r['under_cnn']}/{r['draws']} / {r['under_svm']}/{r['draws']} "
            f"| {r['kl_channels_cnn_mean']:.4f} / {r['kl_channels_svm_mean']:.4f} | {100 * r['unsure_cnn_mean']:.1f}% |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    trainers = [Trainer.open(run, progress=False) for run in args.runs]
    data = trainers[0].ctx.data
    if not getattr(data, "stacked", False):
        print(f"{args.runs[0]}: not a stacked data set ({data.name})", file=sys.stderr)
        return 2
    cnn = mode_classifier(data.base)
    svm = IndependentClassifier(data.base, args.svc_images)
    classifiers = {"cnn": cnn.predict, "svm": svm.predict}
    k = data.channel_classes

    def train_stacks(seed: int) -> np.ndarray:
        return data.to_data_space(data.sample(args.n, torch.Generator().manual_seed(seed)))

    sources = [(f"real: held-out split ({len(data.base.test_images)} images)",
                lambda seed: data.reference(args.n, seed=seed)),
               (f"real: train split ({len(data.base.train_images)} images)", train_stacks)]
    for run, tr in zip(args.runs, trainers):
        sources.append((f"{Path(run).name} (seed {tr.config.seed}, step {tr.ctx.step})",
                        lambda seed, tr=tr: tr.ctx.data.to_data_space(tr.sample_model_space(args.n, seed=seed))))
    rows = []
    for label, sample in sources:
        scores = [score(s, classifiers, k, cnn.confidence) for s in draws_of(sample, args.draws)]
        row = summarise(label, scores)
        row["under_cnn"] = sum(s["kl_cnn"] <= 0.03 for s in scores)
        row["under_svm"] = sum(s["kl_svm"] <= 0.03 for s in scores)
        rows.append(row)
        print(f"{label}: KL {row['kl_cnn_mean']:.4f} ± {row['kl_cnn_std']:.4f} (ModeGuard), "
              f"{row['kl_svm_mean']:.4f} ± {row['kl_svm_std']:.4f} (SVM), modes {row['modes_cnn_mean']:.0f}",
              flush=True)
    notes = [f"{args.draws} draws of {args.n} samples each (latent seeds 0-{args.draws - 1}); mean ± std over draws",
             f"ModeGuard's classifier: test accuracy {100 * cnn.accuracy:.2f}%; the SVM: {100 * svm.accuracy:.2f}%",
             f"multinomial floor (a perfect generator, on average): {(k ** 3 - 1) / (2 * args.n):.4f}",
             "per-channel imbalance: the sum over channels of KL(class shares || uniform), the part of the "
             "KL a generator adds by drawing some digits too often in a channel (modeguard.metrics.stacked."
             "channel_balance); unsure channels: ModeGuard's classifier's top probability below 0.9"]
    text = markdown(rows, notes)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(text)
        with open(out.with_suffix(".csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
