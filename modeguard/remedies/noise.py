"""What D sees and aims for: instance noise (Sønderby et al. 2016) and one-sided label
smoothing (Salimans et al. 2016)."""
from __future__ import annotations

import torch


def annealed_sigma(step: int, total: int, sigma: float, anneal: float) -> float:
    """Instance-noise std at update ``step`` of ``total``: ``sigma`` falling linearly to 0
    over the first ``anneal`` fraction of training (``anneal=0`` keeps it constant)."""
    if anneal == 0:
        return sigma
    return sigma * max(0.0, 1.0 - step / (anneal * total))


def add_instance_noise(real: torch.Tensor, fake: torch.Tensor, sigma: float,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(real + N(0, sigma^2), fake + N(0, sigma^2))``, the noise drawn once for both.

    Takes D's inputs ``(n_real, ...)`` and ``(n_fake, ...)`` (same trailing shape) and an
    optional CPU ``generator`` (so a run reproduces and resumes exactly). Noise on both sides
    makes the two distributions overlap, so D cannot separate them perfectly and G keeps a
    gradient toward every mode. ``sigma <= 0`` returns the inputs unchanged.
    """
    if sigma <= 0:
        return real, fake
    noise = torch.randn((len(real) + len(fake), *real.shape[1:]), generator=generator).to(real.device)
    noise = noise.to(real.dtype) * sigma
    return real + noise[: len(real)], fake + noise[len(real):]


def label_smoothing_term(d_real: torch.Tensor, real_label: float = 0.9) -> torch.Tensor:
    """What to add to a cross-entropy D loss so that D's target on real data is ``real_label``.

    With target t on a real logit l, the cross entropy is
    t * softplus(-l) + (1 - t) * softplus(l) = softplus(-l) + (1 - t) * l, so the term is
    (1 - t) * mean(l). Takes D's logits on the real batch, ``(n,)`` or ``(n, k)`` (a
    k-column D, e.g. several discriminators, gets the term once per column, summed).
    Returns a 0-d tensor. Only the real side is smoothed: a smoothed fake target would
    reward G where there is no data.
    """
    d_real = d_real.float()
    return (1.0 - real_label) * d_real.reshape(len(d_real), -1).mean(0).sum()
