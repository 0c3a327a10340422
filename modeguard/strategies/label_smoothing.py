"""One-sided label smoothing (Salimans et al. 2016): D's target for real data is 0.9, not 1.

An over-confident D has saturated, near-zero gradients where G's samples are; capping its
target on real data keeps it from becoming over-confident. Only the real side is smoothed:
a smoothed fake target would reward G's samples where there is no data.

With the cross-entropy losses, target t on a real logit l costs
t * softplus(-l) + (1 - t) * softplus(l) = softplus(-l) + (1 - t) * l,
so the strategy adds (1 - t) * mean(l) to D's loss (summed over the columns of a
multi-d D, whose loss is the sum of its discriminators' losses).
"""
from __future__ import annotations

from ..errors import ConfigError
from ..losses import get_loss
from ..remedies import label_smoothing_term
from ._listing import listed
from .base import Option, Strategy, register


@register
class LabelSmoothing(Strategy):
    """Adds :func:`modeguard.remedies.label_smoothing_term` to D's loss. Works on any D
    with a cross-entropy loss."""

    name = "label-smoothing"
    summary = "one-sided label smoothing: D's target on real data is 0.9 (Salimans 2016)"
    remedies = (4,)
    options = {
        "real_label": Option(float, 0.9, "D's target probability for real data", low=0.0, high=1.0),
    }

    def validate(self, config) -> None:
        if not get_loss(config.loss).probabilistic:
            raise ConfigError(f"strategy '{self.name}' needs a cross-entropy loss (minimax or ns), "
                              f"got loss '{config.loss}'")
        if "multi-g" in listed(config):
            raise ConfigError(f"strategy '{self.name}' does not apply to multi-g, whose D is a (K+1)-way "
                              f"classifier rather than one real/fake logit")

    def d_loss(self, ctx, batch):
        return label_smoothing_term(batch.d_real, self.real_label)
