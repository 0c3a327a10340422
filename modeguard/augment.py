"""Differentiable augmentations shared by ``diffaugment``, ``ada``, ``cr`` and ``bcr``.

Every operation maps a batch to a batch of the same shape with plain tensor arithmetic and
index gathers, so the gradient reaches the input (G learns through D's view of its
augmented samples). Random parameters are drawn per sample from a CPU
``torch.Generator`` (the run's, so runs reproduce and resume exactly) and moved to the
batch's device; nothing is read back to the host.

Two kinds of input:

* images ``(n, C, H, W)`` in model space [-1, 1]: colour (brightness, saturation,
  contrast), integer translation (zero or reflection padding), cutout, x-flip and
  90-degree rotations;
* points ``(n, d)``: the point forms. Translation shifts each sample by a uniform offset
  of up to ``ratio`` times the real batch's extent (max - min) per coordinate, the analogue
  of a fraction of the image side; x-flip mirrors coordinate 0 and a 90-degree rotation
  turns coordinates 0 and 1, both about the real batch's mean. Colour and cutout have no
  point form and leave points unchanged.

The deterministic cores (``translate``, ``cut_out``, ...) take the drawn parameters; the
``*_augment`` functions draw them.
"""
from __future__ import annotations

import math

import torch

#: operations DiffAugment's policy may name, and cr / bcr's transform T
DIFFAUGMENT_OPS = ("color", "translation", "cutout")
CONSISTENCY_OPS = ("xflip", "translation", "color", "cutout")
#: ADA's pipeline here: its pixel-blitting group and its colour group's first three
ADA_OPS = ("xflip", "rot90", "translation", "color")


def _rand(n: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """``n`` draws of U(0, 1) from ``gen``, on ``like``'s device and dtype."""
    return torch.rand(n, generator=gen).to(like.device, like.dtype, non_blocking=True)


def _randn(n: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(n, generator=gen).to(like.device, like.dtype, non_blocking=True)


def _per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(n,)`` -> broadcastable against ``x`` of shape ``(n, ...)``."""
    return v.reshape(len(v), *([1] * (x.dim() - 1)))


def is_image(x: torch.Tensor) -> bool:
    """True for an image batch ``(n, C, H, W)``; False for points ``(n, d)``."""
    return x.dim() == 4


# ---------------------------------------------------------------- deterministic cores (images)
def shift_brightness(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Add ``b[i]`` (shape ``(n,)``) to every pixel of image i."""
    return x + _per_sample(b, x)


def scale_saturation(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Scale each pixel's deviation from its mean over channels by ``s[i]`` (a no-op on grey images)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * _per_sample(s, x) + mean


def scale_contrast(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Scale each image's deviation from its mean over all pixels and channels by ``c[i]``."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _per_sample(c, x) + mean


def _reflect(idx: torch.Tensor, size: int) -> torch.Tensor:
    """Fold indices into [0, size) by mirror reflection about the edge pixels."""
    if size == 1:
        return torch.zeros_like(idx)
    period = 2 * (size - 1)
    idx = idx.remainder(period)
    return torch.where(idx >= size, period - idx, idx)


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, pad: str = "zeros") -> torch.Tensor:
    """Shift image i's content down by ``dy[i]`` and right by ``dx[i]`` pixels (integer
    tensors ``(n,)``, may be negative): ``out[i, :, y, x] = x[i, :, y - dy, x - dx]``.

    ``pad``: ``"zeros"`` fills the uncovered border with 0 (DiffAugment), ``"reflect"``
    mirrors the image (ADA). Differentiable in ``x`` (a gather).
    """
    n, c, h, w = x.shape
    ys = torch.arange(h, device=x.device)[None, :] - dy.to(x.device, torch.long)[:, None]  # (n, h)
    xs = torch.arange(w, device=x.device)[None, :] - dx.to(x.device, torch.long)[:, None]  # (n, w)
    valid = None
    if pad == "reflect":
        ys, xs = _reflect(ys, h), _reflect(xs, w)
    else:
        valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]  # (n, h, w)
        ys, xs = ys.clamp(0, h - 1), xs.clamp(0, w - 1)
    index = (ys[:, :, None] * w + xs[:, None, :]).reshape(n, 1, h * w).expand(n, c, h * w)
    out = x.reshape(n, c, h * w).gather(2, index).reshape(n, c, h, w)
    return out if valid is None else out * valid[:, None].to(out.dtype)


def cut_out(x: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor, size: int) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square of image i whose centre is pixel (``cy[i]``,
    ``cx[i]``) (clipped at the border)."""
    n, _, h, w = x.shape
    top = cy.to(x.device, torch.long)[:, None] - size // 2
    left = cx.to(x.device, torch.long)[:, None] - size // 2
    rows = torch.arange(h, device=x.device)[None, :]
    cols = torch.arange(w, device=x.device)[None, :]
    in_rows = (rows >= top) & (rows < top + size)  # (n, h)
    in_cols = (cols >= left) & (cols < left + size)  # (n, w)
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


def flip_x(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror image i left-right where ``mask[i]`` (bool ``(n,)``)."""
    return torch.where(_per_sample(mask.to(x.device), x), x.flip(3), x)


def rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate image i by ``k[i]`` quarter turns (``k`` integers in 0..3). Non-square
    images are only turned by half turns (k = 2, 3 -> 2; 1 -> 0)."""
    k = k.to(x.device, torch.long) % 4
    square = x.shape[2] == x.shape[3]
    if not square:
        k = torch.where(k >= 2, 2, 0)
    out = x
    for turns in (1, 2, 3) if square else (2,):
        out = torch.where(_per_sample(k == turns, x), torch.rot90(x, turns, dims=(2, 3)), out)
    return out


# ---------------------------------------------------------------- deterministic cores (points)
def extent(reference: torch.Tensor) -> torch.Tensor:
    """Per-coordinate range (max - min) of a point batch ``(n, d)`` -> ``(d,)``, detached."""
    ref = reference.detach()
    return ref.amax(0) - ref.amin(0)


def flip_points(x: torch.Tensor, mask: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Mirror coordinate 0 of row i about ``centre[0]`` where ``mask[i]``."""
    flipped = x.clone()
    flipped[:, 0] = 2 * centre[0] - x[:, 0]
    return torch.where(mask.to(x.device)[:, None], flipped, x)


def rotate_points(x: torch.Tensor, k: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Turn coordinates (0, 1) of row i by ``k[i]`` quarter turns about ``centre``
    (rows of 1-D points are left as they are)."""
    if x.shape[1] < 2:
        return x
    angle = k.to(x.device, x.dtype) * (math.pi / 2)
    cos, sin = torch.cos(angle).round(), torch.sin(angle).round()
    u, v = x[:, 0] - centre[0], x[:, 1] - centre[1]
    turned = torch.stack([cos * u - sin * v + centre[0], sin * u + cos * v + centre[1]], dim=1)
    return torch.cat([turned, x[:, 2:]], dim=1)


# ---------------------------------------------------------------- random draws
def _integer_shift(n: int, gen: torch.Generator, size: int, ratio: float, like: torch.Tensor) -> torch.Tensor:
    """Uniform integer shifts in [-round(ratio * size), +round(ratio * size)]."""
    most = int(size * ratio + 0.5)
    return torch.randint(-most, most + 1, (n,), generator=gen).to(like.device)


def random_translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125, pad: str = "zeros",
                       reference: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Images: shift each by integers drawn up to ``ratio`` of its side. Points: shift each
    row by U(-ratio, ratio) times ``reference``'s extent per coordinate (``reference``
    defaults to ``x``). Where ``mask`` (bool ``(n,)``) is given, only those samples move."""
    n = len(x)
    if is_image(x):
        dy = _integer_shift(n, gen, x.shape[2], ratio, x)
        dx = _integer_shift(n, gen, x.shape[3], ratio, x)
        if mask is not None:
            dy, dx = dy * mask.to(dy.device), dx * mask.to(dx.device)
        return translate(x, dy, dx, pad)
    span = extent(x if reference is None else reference)
    shift = (torch.rand(x.shape, generator=gen).to(x.device, x.dtype) * 2 - 1) * ratio * span
    if mask is not None:
        shift = shift * mask.to(x.device, x.dtype)[:, None]
    return x + shift


def random_color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """DiffAugment's colour: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x
    U(0.5, 1.5), each drawn per image. Points are returned unchanged."""
    if not is_image(x):
        return x
    n = len(x)
    x = shift_brightness(x, _rand(n, gen, x) - 0.5)
    x = scale_saturation(x, _rand(n, gen, x) * 2)
    return scale_contrast(x, _rand(n, gen, x) + 0.5)


def random_cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """DiffAugment's cutout: zero a square of side ``ratio`` x the image side at a uniform
    position per image. Points are returned unchanged."""
    if not is_image(x):
        return x
    n, _, h, w = x.shape
    cy = torch.randint(0, h + (1 - h % 2), (n,), generator=gen)
    cx = torch.randint(0, w + (1 - w % 2), (n,), generator=gen)
    return cut_out(x, cy, cx, int(h * ratio + 0.5))


def random_xflip(x: torch.Tensor, gen: torch.Generator, reference: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mirror each sample with probability 1/2 (and only where ``mask``)."""
    flip = torch.rand(len(x), generator=gen) < 0.5
    if mask is not None:
        flip = flip.to(mask.device) & mask
    if is_image(x):
        return flip_x(x, flip)
    ref = (x if reference is None else reference).detach()
    return flip_points(x, flip, ref.mean(0))


def random_rot90(x: torch.Tensor, gen: torch.Generator, reference: torch.Tensor | None = None,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """Turn each sample by a uniform number of quarter turns (0..3; only where ``mask``)."""
    k = torch.randint(0, 4, (len(x),), generator=gen).to(x.device)
    if mask is not None:
        k = k * mask.to(x.device)
    if is_image(x):
        return rotate90(x, k)
    ref = (x if reference is None else reference).detach()
    return rotate_points(x, k, ref.mean(0))


def random_augment(x: torch.Tensor, ops: tuple[str, ...], gen: torch.Generator, translation: float = 0.125,
                   cutout: float = 0.5, reference: torch.Tensor | None = None) -> torch.Tensor:
    """Apply every op of ``ops`` (names from :data:`CONSISTENCY_OPS`) to every sample, in
    the order xflip, color, translation, cutout (DiffAugment's order for its three).
    ``reference`` (a real point batch) sets the point forms' scale and centre."""
    if "xflip" in ops:
        x = random_xflip(x, gen, reference)
    if "color" in ops:
        x = random_color(x, gen)
    if "translation" in ops:
        x = random_translation(x, gen, translation, "zeros", reference)
    if "cutout" in ops:
        x = random_cutout(x, gen, cutout)
    return x


def ada_augment(x: torch.Tensor, p: torch.Tensor, ops: tuple[str, ...], gen: torch.Generator,
                translation: float = 0.125, reference: torch.Tensor | None = None) -> torch.Tensor:
    """ADA's pipeline restricted to ``ops`` (names from :data:`ADA_OPS`): each op is
    applied to each sample independently with probability ``p`` (a 0-d tensor on ``x``'s
    device, read on the device).

    Distributions as in Karras et al. 2020: x-flip with 1/2; quarter turns uniform in
    0..3; integer translation up to ``translation`` of the side with reflection padding;
    colour: brightness + N(0, 0.2), contrast x lognormal(0, 0.5 ln 2), saturation x
    lognormal(0, ln 2) (about the channel mean rather than ADA's luma axis).
    """
    p = p.to(x.device, x.dtype)

    def chosen() -> torch.Tensor:
        return _rand(len(x), gen, x) < p

    if "xflip" in ops:
        x = random_xflip(x, gen, reference, chosen())
    if "rot90" in ops:
        x = random_rot90(x, gen, reference, chosen())
    if "translation" in ops:
        x = random_translation(x, gen, translation, "reflect", reference, chosen())
    if "color" in ops and is_image(x):
        n = len(x)
        # selected rather than multiplied by a 0/1 mask, so unchosen images stay bit-identical
        x = _where(chosen(), shift_brightness(x, _randn(n, gen, x) * 0.2), x)
        x = _where(chosen(), scale_contrast(x, torch.exp2(_randn(n, gen, x) * 0.5)), x)
        x = _where(chosen(), scale_saturation(x, torch.exp2(_randn(n, gen, x))), x)
    return x


def _where(mask: torch.Tensor, augmented: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per sample: ``augmented`` where ``mask`` (bool ``(n,)``), else ``x``."""
    return torch.where(_per_sample(mask, x), augmented, x)
