"""Label-free image encoders for the monitor: no labels, no downloaded weights.

- :func:`random_conv_encoder`: a fixed, seeded random conv net (never trained) whose
  features are standardised on the data's real images. Free to build, deterministic.
- :func:`trained_encoder`: a small conv encoder trained self-supervised (a denoising
  autoencoder: it must rebuild the clean image, standardised per pixel, from a shifted,
  noisy, partly masked one)
  on the data's real images at the start, one thread, a progress bar while it trains;
  cached in ``$MODEGUARD_CACHE`` (default ``~/.cache/modeguard``) as safetensors named
  after the data's checksum, so a changed data set never reuses stale weights.

Each returns an :class:`ImageEncoder`: images ``(n, C, H, W)`` in [0, 1] -> standardised
features ``(n, FEATURE_DIM)``. Users with internet may plug in a pretrained encoder
(e.g. Inception or DINOv2 from a package of their choice) through the monitor's
``feature_space=`` builder; ModeGuard neither ships nor requires one.
"""
from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn
from tqdm import tqdm

from ..atomic import atomic_write_bytes
from ..errors import DataError
from ..metrics.classifier import cache_dir

#: bump when a network or its training changes, so old cache files are not reused
VERSION = 2
FEATURE_DIM = 64
#: the self-supervised encoder's training: steps, batch, learning rate
TRAIN_STEPS, TRAIN_BATCH, TRAIN_LR = 400, 128, 1e-3
#: real images the feature statistics (mean, std per feature) are measured on
STATS_SAMPLES = 2000


def _check_images(shape: tuple) -> tuple[int, int, int]:
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 4:
        raise DataError(f"the label-free image encoders need square (C, H, W) images of at least 4 px, got {shape}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _conv_trunk(channels: int, size: int, width: int) -> tuple[nn.Sequential, int]:
    """Conv + ReLU blocks, pooled by 2 while the side exceeds 8; returns (trunk, last width)."""
    layers, c_in, side = [], channels, size
    for c_out in (width, 2 * width, 2 * width):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        if side > 8:
            layers.append(nn.AvgPool2d(2))
            side //= 2
        c_in = c_out
    return nn.Sequential(*layers), c_in


class RandomConvNet(nn.Module):
    """Three seeded random 3x3 conv + ReLU blocks, then average pooling to a ``GRID`` x ``GRID``
    map (global pooling loses where strokes are, which is what tells digits apart).

    Input ``(n, C, H, W)`` in [0, 1]; output ``(n, 2 * width * GRID**2)`` raw features.
    """

    GRID = 4

    def __init__(self, channels: int, size: int, width: int = 32, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.trunk, self.out_width = _conv_trunk(channels, size, width)
        for m in self.trunk:
            if isinstance(m, nn.Conv2d):  # He init from our own generator: the same net on every machine
                fan_in = m.in_channels * 9
                with torch.no_grad():
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                    m.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, C, H, W)`` in [0, 1] -> ``(n, out_width * GRID**2)``."""
        return F.adaptive_avg_pool2d(self.trunk(x * 2.0 - 1.0), self.GRID).flatten(1)


class DenoisingAutoencoder(nn.Module):
    """A conv encoder to ``FEATURE_DIM`` values and an MLP decoder back to pixels.

    ``encode``: ``(n, C, H, W)`` in [0, 1] -> ``(n, FEATURE_DIM)``; ``forward``: the rebuilt
    images ``(n, C, H, W)``, standardised per pixel.
    """

    def __init__(self, channels: int, size: int, width: int = 32):
        super().__init__()
        self.shape = (channels, size, size)
        trunk, out = _conv_trunk(channels, size, width)
        side = size
        while side > 8:
            side //= 2
        self.encoder = nn.Sequential(trunk, nn.Flatten(), nn.Linear(out * side * side, FEATURE_DIM))
        self.decoder = nn.Sequential(nn.ReLU(), nn.Linear(FEATURE_DIM, 256), nn.ReLU(),
                                     nn.Linear(256, channels * size * size))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> features ``(n, FEATURE_DIM)``."""
        return self.encoder(x * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> rebuilt images ``(n, C, H, W)``, standardised per pixel."""
        return self.decoder(self.encode(x)).reshape(len(x), *self.shape)


@dataclass
class ImageEncoder:
    """A feature network plus the per-feature ``mean`` / ``std`` of real images, so every
    feature weighs alike in the monitor's k-NN distances. ``path``: its cache file, if any."""

    name: str
    net: nn.Module
    mean: torch.Tensor
    std: torch.Tensor
    path: Path | None = None

    @torch.no_grad()
    def raw(self, x: np.ndarray, chunk: int = 2048) -> torch.Tensor:
        """Unstandardised features ``(n, F)`` of images ``(n, C, H, W)`` in [0, 1]."""
        self.net.eval()
        fn = self.net.encode if hasattr(self.net, "encode") else self.net
        t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        return torch.cat([fn(t[i:i + chunk]) for i in range(0, len(t), chunk)]) if len(t) else torch.zeros(0)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Standardised features ``(n, F)`` float32 of images ``(n, C, H, W)`` in [0, 1]."""
        return ((self.raw(x) - self.mean) / self.std).numpy().astype(np.float32)


def _real_images(data, n: int, seed: int) -> np.ndarray:
    """``n`` real training images of ``data`` in [0, 1] (float32), reproducible from ``seed``."""
    x = data.to_data_space(data.sample(n, torch.Generator().manual_seed(seed)))
    return np.asarray(x, dtype=np.float32)


def _with_stats(name: str, net: nn.Module, data, seed: int) -> ImageEncoder:
    enc = ImageEncoder(name, net, torch.zeros(1), torch.ones(1))
    feats = enc.raw(_real_images(data, STATS_SAMPLES, seed + 1))
    # a feature (nearly) constant on real images must not blow up on a fake that moves it
    std = feats.std(0)
    enc.mean, enc.std = feats.mean(0), std.clamp_min(0.05 * float(std.mean()) + 1e-6)
    return enc


def random_conv_encoder(data, seed: int = 0) -> ImageEncoder:
    """The seeded random conv net for ``data``'s image shape, standardised on its real images.

    Raises :class:`DataError` for non-square or tiny images.
    """
    channels, size, _ = _check_images(tuple(data.shape))
    return _with_stats("random conv", RandomConvNet(channels, size, seed=seed), data, seed)


# ---------------------------------------------------------------- the self-supervised encoder
def corrupt(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A shifted (up to 1 px), noisy, partly masked copy of images ``x`` (n, C, H, W) in [0, 1]."""
    n = len(x)
    shift = torch.randint(-1, 2, (2,), generator=gen).tolist()
    out = torch.roll(x, shifts=shift, dims=(2, 3))
    out = out + 0.2 * torch.randn(out.shape, generator=gen)
    keep = (torch.rand((n, 1, *x.shape[2:]), generator=gen) > 0.25).float()
    return (out * keep).clamp(0.0, 1.0)


def train_encoder(data, steps: int | None = None, seed: int = 0, progress: bool = True) -> ImageEncoder:
    """Train a :class:`DenoisingAutoencoder` on ``data``'s real images (Adam, cosine LR,
    ``steps`` (default ``TRAIN_STEPS``) batches of ``TRAIN_BATCH``, one thread) and
    standardise its features."""
    channels, size, _ = _check_images(tuple(data.shape))
    steps = TRAIN_STEPS if steps is None else int(steps)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = DenoisingAutoencoder(channels, size)
    # rebuild standardised pixels: with raw [0, 1] targets the net first sits for a long
    # while on the mean image, which a few hundred steps cannot afford
    real = torch.as_tensor(_real_images(data, STATS_SAMPLES, seed + 2))
    pixel_mean, pixel_std = real.mean(0), real.std(0) + 0.05
    opt = torch.optim.Adam(net.parameters(), lr=TRAIN_LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net.train()
        bar = tqdm(range(steps), desc=f"training the monitor's image encoder for {data.name}", file=sys.stderr,
                   disable=not progress, leave=False)
        for _ in bar:
            x = torch.as_tensor(np.asarray(data.to_data_space(data.sample(TRAIN_BATCH, gen)), dtype=np.float32))
            loss = F.mse_loss(net(corrupt(x, gen)), (x - pixel_mean) / pixel_std)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}", refresh=False)
    finally:
        torch.set_num_threads(previous)
    return _with_stats("trained encoder", net.eval(), data, seed)


def data_hash(data) -> str:
    """The data's checksum where it has one, else the sha256 of 2,000 of its real images."""
    if hasattr(data, "checksum"):
        return str(data.checksum())
    x = np.ascontiguousarray(_real_images(data, 2000, 0))
    return hashlib.sha256(f"{x.shape}".encode() + x.tobytes()).hexdigest()


def encoder_cache_path(data, directory: str | Path | None = None, steps: int | None = None, seed: int = 0) -> Path:
    """The cache file of ``data``'s trained encoder (named after its name, checksum, steps
    (default ``TRAIN_STEPS``) and seed)."""
    steps = TRAIN_STEPS if steps is None else int(steps)
    directory = Path(directory) if directory is not None else cache_dir()
    safe_name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in data.name)[:40]
    return directory / f"image-encoder-v{VERSION}-{safe_name}-{data_hash(data)[:16]}-s{steps}-{seed}.safetensors"


def _save(enc: ImageEncoder, path: Path, shape: tuple) -> None:
    tensors = {f"net.{k}": v.detach().contiguous() for k, v in enc.net.state_dict().items()}
    tensors.update({"stats.mean": enc.mean.contiguous(), "stats.std": enc.std.contiguous()})
    blob = safetensors_bytes(tensors, metadata={"shape": ",".join(map(str, shape)), "version": str(VERSION)})
    atomic_write_bytes(path, lambda f: f.write(blob))


def load_encoder(path: str | Path, shape: tuple) -> ImageEncoder | None:
    """The trained encoder saved in ``path`` for images of ``shape`` (C, H, W), or None when
    the file is missing, unreadable or for another image shape."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("shape") != ",".join(map(str, shape)):
                return None
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        net = DenoisingAutoencoder(shape[0], shape[1])
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        return ImageEncoder("trained encoder", net.eval(), tensors["stats.mean"], tensors["stats.std"], path)
    except Exception:  # a corrupt or foreign file is a cache miss; it gets rewritten
        return None


_MEMO: dict[str, ImageEncoder] = {}


def trained_encoder(data, cache: str | Path | None = None, steps: int | None = None, seed: int = 0,
                    progress: bool = True) -> ImageEncoder:
    """``data``'s self-supervised encoder: from memory, else the cache file, else trained
    (:func:`train_encoder`) and written there atomically.

    cache: the cache folder (default ``$MODEGUARD_CACHE`` or ``~/.cache/modeguard``).
    Raises :class:`DataError` for non-square or tiny images.
    """
    shape = _check_images(tuple(data.shape))
    path = encoder_cache_path(data, cache, steps, seed)
    if str(path) in _MEMO:
        return _MEMO[str(path)]
    enc = load_encoder(path, shape)
    if enc is None:
        enc = train_encoder(data, steps=steps, seed=seed, progress=progress)
        enc.path = path
        _save(enc, path, shape)
    _MEMO[str(path)] = enc
    return enc
