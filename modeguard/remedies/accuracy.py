"""D's accuracy: the one definition that the trainer's logs, the collapse monitor and the
adaptive-lr controller share."""
from __future__ import annotations

import torch


def d_accuracy(real_scores: torch.Tensor, fake_scores: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(accuracy on reals, accuracy on fakes)`` as 0-d tensors in [0, 1] (no host read).

    ``real_scores`` / ``fake_scores``: one score per input ``(n,)``, > 0 where D calls it real
    (the objective's ``real_score`` of D's outputs). A real counts as recognised where its
    score is > 0, a fake where it is <= 0. ``fake_scores`` None gives None in its place.
    """
    real = (real_scores.detach().float() > 0).float().mean()
    fake = None if fake_scores is None else (fake_scores.detach().float() <= 0).float().mean()
    return real, fake
