"""Instance noise (Sønderby et al. 2016; the article's remedy 4, "random noise").

Gaussian noise on both real and fake inputs of D makes the two distributions overlap, so
D cannot separate them perfectly and G keeps a useful gradient toward every mode. The
noise shrinks linearly to zero so the final G is fit to the clean data.
"""
from __future__ import annotations

from ..remedies import add_instance_noise, annealed_sigma
from .base import Option, Strategy, register


@register
class InstanceNoise(Strategy):
    """Adds :func:`modeguard.remedies.add_instance_noise` to D's inputs in both phases, with
    the std of :func:`~modeguard.remedies.annealed_sigma`; logs it as ``noise_sigma``.
    Works on any D."""

    name = "instance-noise"
    summary = "Gaussian noise on D's real and fake inputs, annealed to zero (Sonderby 2016)"
    remedies = (4,)
    options = {
        "sigma": Option(float, 0.1, "noise std at step 0 (in model space)", low=0.0),
        "anneal": Option(float, 0.5, "fraction of training over which sigma falls linearly to 0 "
                                     "(0 = keep sigma constant)", low=0.0, high=1.0),
    }

    def sigma_at(self, step: int, total: int) -> float:
        """The noise std at update ``step`` of ``total``."""
        return annealed_sigma(step, total, self.sigma, self.anneal)

    def d_inputs(self, ctx, real, fake):
        sigma = self.sigma_at(ctx.step, ctx.total_steps)
        ctx.stats["noise_sigma"] = sigma
        # drawn from the run's generator so that runs reproduce and resume exactly
        return add_instance_noise(real, fake, sigma, ctx.rng)
