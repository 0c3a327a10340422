"""The mode classifier: a small CNN that ModeGuard trains on a labelled image set and caches.

Stacked metrics label every channel of a generated image with it, and the feature metrics
(``fd_clf``, PRDC) use its penultimate layer as the feature space. It is trained on the
set's train split and its accuracy is measured on the held-out test split. Weights go to
``$MODEGUARD_CACHE`` (default ``~/.cache/modeguard``) as safetensors, named after the
data's checksum, so a changed data set never reuses stale weights. Nothing is downloaded.
"""
from __future__ import annotations

import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from ..atomic import atomic_write_bytes
from ..errors import DataError

#: bump when the network or its training changes, so old cache files are not reused
VERSION = 2
FEATURE_DIM = 128
#: 1,500 steps, not 300: on scikit-learn's digits the net then reaches 99.4-99.7% (98.6-99.2%
#: at 300), and its errors no longer add KL to stacked runs (README, "Images")
MIN_STEPS = 1500
MIN_EPOCHS = 3
BATCH = 128


def cache_dir() -> Path:
    """Where cached classifier weights live: ``$MODEGUARD_CACHE`` or ``~/.cache/modeguard``."""
    return Path(os.environ.get("MODEGUARD_CACHE") or Path.home() / ".cache" / "modeguard").expanduser()


def _log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class ClassifierNet(nn.Module):
    """Two 3x3 conv + batch-norm blocks and a ``FEATURE_DIM`` fully connected layer; input (n, C, H, W) in [0, 1].

    Small images (<= 16 px) keep their resolution through the first block and use a wider
    net (it is cheap at 8x8); larger ones pool after each block.
    """

    def __init__(self, channels: int, size: int, num_classes: int):
        super().__init__()
        small = size <= 16
        width = 32 if small else 16
        side = size // 2 if small else size // 4
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Identity() if small else nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * side * side, FEATURE_DIM), nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [0, 1] -> features ``(n, FEATURE_DIM)``."""
        return self.body(x * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, C, H, W)`` in [0, 1] -> class logits ``(n, num_classes)``."""
        return self.head(self.dropout(self.features(x)))


@contextmanager
def _threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _as_unit(pixels: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(pixels))
    return t.float().div_(255.0) if t.dtype == torch.uint8 else t.float()


@dataclass
class ModeClassifier:
    """A trained :class:`ClassifierNet`, its held-out ``accuracy`` and its cache file ``path``."""

    net: ClassifierNet
    accuracy: float
    num_classes: int
    path: Path | None = None

    @torch.no_grad()
    def _run(self, x: np.ndarray, fn, chunk: int = 4096) -> np.ndarray:
        self.net.eval()
        out = [fn(_as_unit(x[i:i + chunk])) for i in range(0, len(x), chunk)]
        return torch.cat(out).numpy() if out else np.zeros((0,))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class of each image; x: (n, C, H, W) in [0, 1] (or uint8). Returns (n,) int64."""
        return self._run(x, lambda t: self.net(t).argmax(1)).astype(np.int64)

    def confidence(self, x: np.ndarray) -> np.ndarray:
        """The largest class probability of each image ``(n, C, H, W)``: ``(n,)`` float32 in (0, 1]."""
        return self._run(x, lambda t: self.net(t).softmax(1).amax(1)).astype(np.float32)

    def features(self, x: np.ndarray) -> np.ndarray:
        """Penultimate-layer features (n, FEATURE_DIM) float32."""
        return self._run(x, self.net.features).astype(np.float32)

    def predict_with_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both at once: ``(classes (n,) int64, features (n, FEATURE_DIM) float32)`` of images ``(n, C, H, W)``."""
        both = self._run(x, lambda t: torch.cat([f := self.net.features(t), self.net.head(f)], 1))
        return both[:, FEATURE_DIM:].argmax(1).astype(np.int64), both[:, :FEATURE_DIM].astype(np.float32)


def evaluate_accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images ``x`` ``(n, C, H, W)`` (uint8 or [0, 1]) that ``net`` classes as ``y`` ``(n,)``."""
    clf = ModeClassifier(net, float("nan"), 0)
    return float((clf.predict(x) == np.asarray(y)).mean())


def train_classifier(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                     num_classes: int, seed: int = 0, log: Callable[[str], None] = _log_stderr) -> ModeClassifier:
    """Train a :class:`ClassifierNet` (Adam, cosine-decayed LR, at least ``MIN_STEPS`` steps
    and ``MIN_EPOCHS`` epochs, one thread) and measure its test accuracy.

    train_x / test_x: uint8 (N, C, H, W); labels int (N,).
    """
    if train_x.shape[2] != train_x.shape[3]:
        raise DataError(f"mode classifier needs square images, got {train_x.shape[2:]}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = ClassifierNet(train_x.shape[1], train_x.shape[2], num_classes)
    n = len(train_x)
    steps_per_epoch = math.ceil(n / BATCH)
    epochs = max(MIN_EPOCHS, math.ceil(MIN_STEPS / steps_per_epoch))
    total = epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    x_all, y_all = torch.from_numpy(np.ascontiguousarray(train_x)), torch.from_numpy(np.asarray(train_y, np.int64))
    t0 = time.perf_counter()
    with _threads(1):
        for epoch in range(epochs):
            net.train()
            perm = torch.randperm(n, generator=g)
            total_loss = 0.0
            for i in range(0, n, BATCH):
                idx = perm[i:i + BATCH]
                loss = F.cross_entropy(net(x_all[idx].float().div_(255.0)), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += float(loss.detach()) * len(idx)
            if epoch == epochs - 1 or (epochs <= 10 or (epoch + 1) % max(1, epochs // 5) == 0):
                acc = evaluate_accuracy(net, test_x, test_y)
                log(f"  mode classifier epoch {epoch + 1}/{epochs}: loss {total_loss / n:.4f}, "
                    f"test accuracy {100 * acc:.2f}% ({time.perf_counter() - t0:.0f} s)")
    acc = evaluate_accuracy(net, test_x, test_y)
    return ModeClassifier(net.eval(), acc, num_classes)


# ---------------------------------------------------------------- cache
_MEMO: dict[tuple[str, str], ModeClassifier] = {}


def cache_path(data, directory: Path | None = None) -> Path:
    """The cache file of ``data``'s classifier (named after its name and checksum) in ``directory``."""
    directory = Path(directory) if directory is not None else cache_dir()
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in data.name)[:40]
    return directory / f"mode-classifier-v{VERSION}-{safe_name}-{data.checksum()[:16]}.safetensors"


def _save(clf: ModeClassifier, path: Path, shape: tuple) -> None:
    tensors = {k: v.detach().contiguous() for k, v in clf.net.state_dict().items()}
    meta = {"accuracy": repr(clf.accuracy), "num_classes": str(clf.num_classes),
            "shape": ",".join(map(str, shape)), "version": str(VERSION)}
    blob = safetensors_bytes(tensors, metadata=meta)
    atomic_write_bytes(path, lambda f: f.write(blob))


def load_cached(path: Path, shape: tuple) -> ModeClassifier | None:
    """The cached classifier, or None when the file is missing, unreadable or for other data."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        num_classes = int(meta["num_classes"])
        if meta.get("shape") != ",".join(map(str, shape)):
            return None
        net = ClassifierNet(shape[0], shape[1], num_classes)
        net.load_state_dict(tensors)
        return ModeClassifier(net.eval(), float(meta["accuracy"]), num_classes, path)
    except Exception:  # a corrupt or foreign file is a cache miss; it gets rewritten
        return None


def mode_classifier(data, cache: str | Path | None = None, log: Callable[[str], None] = _log_stderr,
                    seed: int = 0) -> ModeClassifier:
    """The classifier for a labelled :class:`~modeguard.data.images.ImageSet` (1 set per
    channel for stacked sets: pass their ``base``), trained once and cached.

    cache: the cache folder (default :func:`cache_dir`); log: where progress lines go.
    Raises :class:`DataError` for an unlabelled set.
    """
    if not getattr(data, "labelled", False):
        raise DataError(f"{data.name}: the mode classifier needs a labelled image set")
    path = cache_path(data, cache)
    key = (str(path), data.checksum())
    if key in _MEMO:
        return _MEMO[key]
    clf = load_cached(path, data.shape)
    if clf is None:
        log(f"training the mode classifier for {data.name} ({len(data.train_images)} images, 1 thread); "
            f"it is cached in {path}")
        clf = train_classifier(data.train_images, data.train_labels, data.test_images, data.test_labels,
                               data.num_classes, seed=seed, log=log)
        clf.path = path
        _save(clf, path, data.shape)
        log(f"mode classifier for {data.name}: test accuracy {100 * clf.accuracy:.2f}%")
    _MEMO[key] = clf
    return clf
