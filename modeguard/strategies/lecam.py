"""LeCam regulariser (Tseng et al. 2021): D's outputs held near moving anchors.

Two anchors follow D's mean output with an exponential moving average (``decay`` 0.99):
``alpha_real`` on real inputs and ``alpha_fake`` on fakes. D's loss gains
``weight * (E[relu(D(x) - alpha_fake)^2] + E[relu(alpha_real - D(G(z)))^2])``: a real
scored above the fakes' usual level, or a fake scored below the reals' usual level, is
pulled back. D cannot push its outputs on the (few) training reals and the fakes
arbitrarily far apart, which is how a D that memorises a small data set starves G of
gradient; the paper shows it bounds a LeCam divergence instead. The article's remedy 8
(a stable discriminator).

The anchors are updated from the current batch before the penalty is computed (as in
the paper's code), start at the first batch's means, are in the checkpoint, and are
logged as ``lecam_alpha_real`` / ``lecam_alpha_fake`` with the penalty ``lecam``. D's
output is taken through the objective's ``real_score`` (one number per input; the mean
over discriminators for ``multi-d``). Applies to points and images alike.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ._listing import listed
from .base import Option, Strategy, register


def lecam_penalty(d_real: torch.Tensor, d_fake: torch.Tensor, alpha_real: torch.Tensor,
                  alpha_fake: torch.Tensor) -> torch.Tensor:
    """``E[relu(d_real - alpha_fake)^2] + E[relu(alpha_real - d_fake)^2]`` for scores ``(n,)``."""
    return F.relu(d_real - alpha_fake).pow(2).mean() + F.relu(alpha_real - d_fake).pow(2).mean()


@register
class LeCam(Strategy):
    """``lecam``: the LeCam regulariser with EMA anchors (see the module doc)."""

    name = "lecam"
    summary = "LeCam regulariser: D's outputs kept near EMA anchors of its real / fake means (Tseng 2021)"
    remedies = (8,)
    options = {
        "weight": Option(float, 0.3, "lambda: weight of the regulariser (paper: 0.3 on CIFAR-10 BigGAN)", low=0.0),
        "decay": Option(float, 0.99, "EMA decay of the anchors", low=0.0, high=1.0),
    }

    def __init__(self, **opts):
        super().__init__(**opts)
        self._anchors: torch.Tensor | None = None  # (alpha_real, alpha_fake), None before the first D step

    def validate(self, config) -> None:
        if "multi-g" in listed(config):
            raise ConfigError("strategy 'lecam' cannot be combined with 'multi-g' (its D is a (K+1)-way "
                              "classifier, with no single real/fake output to anchor)")

    @property
    def anchors(self) -> tuple[float, float] | None:
        """``(alpha_real, alpha_fake)`` as floats (reads them back), or None before the first D step."""
        return None if self._anchors is None else (float(self._anchors[0]), float(self._anchors[1]))

    def d_loss(self, ctx, batch):
        """Update the anchors from this batch, then return ``weight`` x the penalty."""
        score = ctx.objective.real_score
        d_real, d_fake = score(batch.d_real).float(), score(batch.d_fake).float()
        means = torch.stack([d_real.detach().mean(), d_fake.detach().mean()])
        if self._anchors is None:
            self._anchors = means
        else:
            self._anchors = self.decay * self._anchors.to(means.device) + (1 - self.decay) * means
        penalty = lecam_penalty(d_real, d_fake, self._anchors[0], self._anchors[1])
        ctx.stats["lecam"] = penalty.detach()
        ctx.stats["lecam_alpha_real"] = self._anchors[0]
        ctx.stats["lecam_alpha_fake"] = self._anchors[1]
        return self.weight * penalty

    def state_dict(self) -> dict:
        return {} if self._anchors is None else {"anchors": self._anchors.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        anchors = state.get("anchors")
        self._anchors = None if anchors is None else torch.as_tensor(anchors, dtype=torch.float32)
