"""Feature matching (Salimans et al. 2016).

G also minimises ||mean f(real) - mean f(fake)||^2, f being D's features (the layer before
its head). Matching the batch's feature statistics rewards G for covering what the real
batch contains rather than for the single point D currently likes best. ``replace=true``
makes it G's whole loss, as in the paper.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError
from ._listing import listed
from .base import Option, Strategy, register
from .needs import D_FEATURES


def feature_matching_term(features, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """||mean_rows f(real) - mean_rows f(fake)||^2 (real features carry no gradient)."""
    with torch.no_grad():
        target = features(real).reshape(len(real), -1).mean(0)
    return (features(fake).reshape(len(fake), -1).mean(0) - target).pow(2).sum()


class FeatureMatchingObjective:
    """Wraps an objective: D's loss unchanged, G's loss is only the feature-matching term
    (times ``weight``); ``real_score`` is the inner objective's."""

    def __init__(self, inner, weight: float):
        self.inner = inner
        self.weight = weight

    def d_loss(self, ctx, batch):
        """The inner objective's D loss."""
        return self.inner.d_loss(ctx, batch)

    def g_loss(self, ctx, batch):
        """``weight`` x the feature-matching term; fills ``batch.d_fake`` for logs and controllers."""
        term = feature_matching_term(ctx.D.features, batch.real_in, batch.fake_in)
        ctx.stats["feature_matching"] = term.detach()
        with torch.no_grad():  # D's view of the fakes, for logs and controllers
            batch.d_fake = ctx.discriminate(batch.fake_in)
        return self.weight * term

    def real_score(self, d_out):
        """The inner objective's score (> 0: D calls the input real)."""
        return self.inner.real_score(d_out)


@register
class FeatureMatching(Strategy):
    """Adds the feature-matching term to G's loss (or makes it G's loss); needs D to expose
    ``features(x)``, as ModeGuard's discriminators do."""

    name = "feature-matching"
    summary = "G matches the mean of D's features on real data (Salimans 2016)"
    remedies = ()
    needs = (D_FEATURES,)
    order = 60  # wraps the objective that multi-d / multi-g install
    options = {
        "weight": Option(float, 1.0, "weight of the feature-matching term", low=0.0),
        "replace": Option(bool, False, "make it G's whole loss (drop the adversarial G loss)"),
    }

    def validate(self, config):
        if self.replace and "unrolled" in listed(config):
            raise ConfigError("strategy 'feature-matching:replace=true' cannot be combined with 'unrolled' "
                              "(G's loss then never reads D's output, so there is nothing to unroll)")

    def setup(self, ctx):
        self.check_models(ctx.G, ctx.D, ctx.spec)
        if self.replace:
            ctx.objective = FeatureMatchingObjective(ctx.objective, self.weight)

    def g_loss(self, ctx, batch):
        if self.replace:
            return None  # the installed objective already returns the term
        term = feature_matching_term(ctx.D.features, batch.real_in, batch.fake_in)
        ctx.stats["feature_matching"] = term.detach()
        return self.weight * term
