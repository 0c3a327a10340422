"""Adaptive discriminator augmentation, ADA (Karras et al. 2020).

Augment everything D sees, each operation applied per sample with probability ``p``, and
steer ``p`` by how much D overfits: every ``interval`` D steps,
``r_t = E[sign(D(real))]`` over those steps (1 = D calls every training real "real" with
confidence, the sign of memorising them); ``p`` moves up when ``r_t > target`` and down
otherwise, by ``batch_size * interval / (speed_kimg * 1000)`` per adjustment, i.e. it can
go from 0 to 1 in ``speed_kimg`` thousand real images (ADA: 500k; short runs want less).

The pipeline is a subset of ADA's "bgc": x-flip, quarter turns and integer translation
(reflection padding) from its pixel-blitting group and brightness, contrast and
saturation from its colour group (no hue / luma flip, no geometric scaling or rotation,
no filtering or cutout); see :func:`modeguard.augment.ada_augment`. Point data get the
point forms (mirror of coordinate 0, quarter turns of coordinates 0-1, uniform shifts).

``p`` and ``r_t`` are logged as ``ada_p`` / ``ada_rt``; ``p`` and the running sum are
in the checkpoint, so a resumed run continues with the same ``p``. Nothing is read
back to the host: ``p`` lives on the device and is compared there.
"""
from __future__ import annotations

import torch

from ..augment import ADA_OPS, ada_augment
from ..errors import ConfigError
from .base import Option, Strategy, register


@register
class ADA(Strategy):
    """``ada``: the pipeline with probability ``p``, ``p`` steered by r_t (see the module doc)."""

    name = "ada"
    summary = "augmentation with probability p steered by D's overfitting r_t = E[sign D(real)] (Karras 2020)"
    remedies = (4, 8)
    options = {
        "target": Option(float, 0.6, "r_t that p steers towards (ADA: 0.6)", low=0.0, high=1.0),
        "interval": Option(int, 4, "D steps between adjustments of p", low=1),
        "speed_kimg": Option(float, 500.0, "thousands of real images over which p can move from 0 to 1 "
                                           "(ADA: 500; e.g. 20 for runs of a few thousand steps)", low=0.001),
        "p_init": Option(float, 0.0, "p at step 0", low=0.0, high=1.0),
        "p_max": Option(float, 1.0, "upper bound of p", low=0.0, high=1.0),
        "pipeline": Option(tuple, ADA_OPS, "augmentations, joined by '+': xflip, rot90, translation, color",
                           choices=ADA_OPS),
        "translation": Option(float, 0.125, "largest shift, as a fraction of the image side", low=0.0,
                              high=0.5),
    }

    def __init__(self, **opts):
        super().__init__(**opts)
        self._p = torch.tensor(float(self.p_init))
        self._sign_sum = torch.zeros(())
        self._calls = 0

    def validate(self, config) -> None:
        if not self.pipeline:
            raise ConfigError("strategy 'ada': option 'pipeline' names no augmentation")
        if self.p_init > self.p_max:
            raise ConfigError(f"strategy 'ada': p_init {self.p_init} is above p_max {self.p_max}")

    def setup(self, ctx) -> None:
        self._p = self._p.to(ctx.device)
        self._sign_sum = self._sign_sum.to(ctx.device)

    @property
    def p(self) -> torch.Tensor:
        """The current augmentation probability (0-d tensor)."""
        return self._p

    def d_inputs(self, ctx, real: torch.Tensor, fake: torch.Tensor):
        """Augment reals and fakes, each op per sample with probability p."""
        both = ada_augment(torch.cat([real, fake]), self._p, self.pipeline, ctx.rng, self.translation,
                           reference=real)
        ctx.stats["ada_p"] = self._p
        return both[: len(real)], both[len(real):]

    def d_loss(self, ctx, batch):
        """Accumulate sign(D(real)); every ``interval`` D steps move p toward the target."""
        score = ctx.objective.real_score(batch.d_real.detach().float())
        self._sign_sum = self._sign_sum + score.sign().mean()
        self._calls += 1
        if self._calls % self.interval == 0:
            r_t = self._sign_sum / self.interval
            step = ctx.config.batch_size * self.interval / (self.speed_kimg * 1000.0)
            self._p = (self._p + torch.sign(r_t - self.target) * step).clamp(0.0, self.p_max)
            self._sign_sum = torch.zeros_like(self._sign_sum)
            ctx.stats["ada_rt"] = r_t
        ctx.stats["ada_p"] = self._p
        return None

    def state_dict(self) -> dict:
        return {"p": self._p.detach().cpu(), "sign_sum": self._sign_sum.detach().cpu(), "calls": self._calls}

    def load_state_dict(self, state: dict) -> None:
        device = self._p.device
        if "p" in state:
            self._p = torch.as_tensor(state["p"], dtype=torch.float32).to(device)
        if "sign_sum" in state:
            self._sign_sum = torch.as_tensor(state["sign_sum"], dtype=torch.float32).to(device)
        self._calls = int(state.get("calls", 0))
