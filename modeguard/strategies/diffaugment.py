"""DiffAugment (Zhao et al. 2020): the same differentiable augmentation on everything D sees.

A discriminator trained on a few thousand images memorises them; its outputs on the
training reals drift away from those on held-out reals and fakes, and G's diversity falls
with it. DiffAugment applies random colour, translation and cutout to the reals and the
fakes, in D's phase and in G's phase (G's gradient passes through the augmentation, which
is differentiable), so D never sees the same image twice while G still learns the clean
distribution (the augmentations are applied to both sides alike). It answers the article's
remedy 4 (random noise on D's inputs) and keeps D from overfitting (remedy 8).

Point data: only ``translation`` has a point form (a uniform shift of each row by up to
``translation`` times the real batch's extent per coordinate, see :mod:`modeguard.augment`);
colour and cutout leave points unchanged, and a policy without translation is refused.
"""
from __future__ import annotations

import torch

from ..augment import DIFFAUGMENT_OPS, random_augment
from ..errors import ConfigError
from .base import Option, Strategy, register


@register
class DiffAugment(Strategy):
    """``diffaugment``: the policy's augmentations on every real and fake D sees (see the module doc)."""

    name = "diffaugment"
    summary = "differentiable colour / translation / cutout on D's real and fake inputs in both phases (Zhao 2020)"
    remedies = (4, 8)
    options = {
        "policy": Option(tuple, DIFFAUGMENT_OPS, "augmentations, joined by '+': color, translation, cutout",
                         choices=DIFFAUGMENT_OPS),
        "translation": Option(float, 0.125, "largest shift, as a fraction of the image side (points: of the "
                                            "real batch's extent)", low=0.0, high=0.5),
        "cutout": Option(float, 0.5, "side of the cut-out square, as a fraction of the image side",
                         low=0.0, high=1.0),
    }

    def validate(self, config) -> None:
        if not self.policy:
            raise ConfigError("strategy 'diffaugment': option 'policy' names no augmentation")

    def setup(self, ctx) -> None:
        if "translation" not in self.policy and ctx.data.kind == "points":
            raise ConfigError("strategy 'diffaugment' on point data needs 'translation' in its policy "
                              "(colour and cutout apply to images only)")

    def d_inputs(self, ctx, real: torch.Tensor, fake: torch.Tensor):
        """Augment reals and fakes independently per sample (same policy, fresh draws)."""
        both = random_augment(torch.cat([real, fake]), self.policy, ctx.rng, self.translation, self.cutout,
                              reference=real)
        return both[: len(real)], both[len(real):]
