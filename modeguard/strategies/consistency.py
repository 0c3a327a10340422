"""Consistency regularisation: ``cr`` (Zhang et al. 2020) and ``bcr`` (Zhao et al. 2021).

``cr`` adds ``weight * E ||D(x) - D(T(x))||^2`` over real inputs x to D's loss, where T is
a random semantics-preserving augmentation (default: x-flip and a shift of up to 1/8 of the
side, as in the paper). D must then give an image and its augmented copy the same
output, which it cannot do by memorising pixel patterns of the training reals: D stays
smooth along the augmentation directions (the article's remedy 8, a stable D) and sees
randomly perturbed inputs (remedy 4). Unlike DiffAugment, G never sees augmented samples.

``bcr`` balances it: the same term on G's samples too, ``weight_real`` on reals and
``weight_fake`` on fakes, so D does not learn to tell augmented images from fakes.

Both act in D's phase only; the penalty is logged as ``cr`` (``bcr_real`` / ``bcr_fake``).
The squared difference is summed over D's outputs per input (one logit for the usual D).
Point data use the point forms of the augmentations (:mod:`modeguard.augment`).
"""
from __future__ import annotations

import torch

from ..augment import CONSISTENCY_OPS, random_augment
from ..errors import ConfigError
from .base import Option, Strategy, register

_TRANSFORM_OPTIONS = {
    "transform": Option(tuple, ("xflip", "translation"), "the augmentation T, joined by '+': xflip, "
                                                         "translation, color, cutout", choices=CONSISTENCY_OPS),
    "translation": Option(float, 0.125, "largest shift, as a fraction of the image side (points: of the real "
                                        "batch's extent)", low=0.0, high=0.5),
}


def consistency_penalty(discriminate, x: torch.Tensor, d_x: torch.Tensor, augmented: torch.Tensor) -> torch.Tensor:
    """``E_i ||d_x[i] - D(augmented[i])||^2``: ``d_x`` is D's output on ``x`` ``(n, ...)``;
    returns a 0-d tensor (gradient flows into D through both terms)."""
    diff = d_x - discriminate(augmented)
    return diff.reshape(len(x), -1).pow(2).sum(1).mean()


class _Consistency(Strategy):
    """Shared parts: the transform T and the checks."""

    remedies = (4, 8)

    def validate(self, config) -> None:
        if not self.transform:
            raise ConfigError(f"strategy '{self.name}': option 'transform' names no augmentation")

    def setup(self, ctx) -> None:
        if ctx.data.kind == "points" and not {"xflip", "translation"} & set(self.transform):
            raise ConfigError(f"strategy '{self.name}' on point data needs xflip or translation in its transform "
                              f"(colour and cutout apply to images only)")

    def transformed(self, ctx, x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """T(x), drawn from the run's generator."""
        return random_augment(x.detach(), self.transform, ctx.rng, self.translation, reference=reference)


@register
class ConsistencyRegularization(_Consistency):
    """``cr``: ``weight * E||D(x) - D(T(x))||^2`` on real inputs."""

    name = "cr"
    summary = "consistency: D(x) = D(T(x)) on augmented reals (Zhang 2020)"
    options = {"weight": Option(float, 10.0, "lambda: weight of ||D(x) - D(T(x))||^2", low=0.0),
               **_TRANSFORM_OPTIONS}

    def d_loss(self, ctx, batch):
        real = batch.real_in
        penalty = consistency_penalty(ctx.discriminate, real, batch.d_real, self.transformed(ctx, real, real))
        ctx.stats["cr"] = penalty.detach()
        return self.weight * penalty


@register
class BalancedConsistencyRegularization(_Consistency):
    """``bcr``: the consistency term on reals and on fakes, each with its weight."""

    name = "bcr"
    summary = "balanced consistency: D(x) = D(T(x)) on augmented reals and fakes (Zhao 2021)"
    options = {"weight_real": Option(float, 10.0, "lambda_real: weight of the term on reals", low=0.0),
               "weight_fake": Option(float, 10.0, "lambda_fake: weight of the term on fakes", low=0.0),
               **_TRANSFORM_OPTIONS}

    def d_loss(self, ctx, batch):
        real, fake = batch.real_in, batch.fake_in
        on_real = consistency_penalty(ctx.discriminate, real, batch.d_real, self.transformed(ctx, real, real))
        on_fake = consistency_penalty(ctx.discriminate, fake, batch.d_fake, self.transformed(ctx, fake, real))
        ctx.stats["bcr_real"] = on_real.detach()
        ctx.stats["bcr_fake"] = on_fake.detach()
        return self.weight_real * on_real + self.weight_fake * on_fake
