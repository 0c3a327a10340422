"""Spectral normalization (Miyato et al. 2018): every weight matrix of D divided by its
largest singular value, estimated by power iteration.

That bounds D's Lipschitz constant by 1 (with 1-Lipschitz activations), so D cannot form
the arbitrarily sharp peaks that pull all of G's samples onto one mode. The power
iteration's u / v vectors are buffers of D, so they are saved in every checkpoint.

"Every layer that has a weight" is the generic form: any module with a ``weight``
parameter of two or more dims (Linear, Conv*, ConvTranspose*, Bilinear, Embedding, user
layers that follow the convention); 1-D weights (normalisation layers' scales) are left
alone, as are weights already parametrized.
"""
from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ..errors import ConfigError
from ._optim import nets_option
from .base import Option, Strategy, register

LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
          nn.ConvTranspose3d)


def has_weight_matrix(module: nn.Module) -> bool:
    """True when ``module`` itself holds a ``weight`` of >= 2 dims (parametrized or not)."""
    if parametrize.is_parametrized(module, "weight"):
        return module.parametrizations.weight.original.dim() >= 2
    weight = dict(module.named_parameters(recurse=False)).get("weight")
    return weight is not None and weight.dim() >= 2


def layers_with_weight(module: nn.Module) -> list[nn.Module]:
    """Every submodule of ``module`` (itself included) that holds a weight matrix, in order."""
    return [m for m in module.modules() if has_weight_matrix(m)]


def spectral_normalize(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Parametrize every not yet parametrized weight matrix inside ``module``.

    Returns how many layers it normalised; raises ConfigError when ``module`` has no
    weight matrix at all (nothing to normalise would silently do nothing).
    """
    layers = layers_with_weight(module)
    if not layers:
        raise ConfigError(f"strategy 'spectral-norm' found no layer with a weight matrix in "
                          f"{type(module).__name__} (it normalises every module with a 'weight' of >= 2 dims)")
    fresh = [m for m in layers if not parametrize.is_parametrized(m, "weight")]
    for m in fresh:
        spectral_norm(m, n_power_iterations=n_power_iterations)
    return len(fresh)


@register
class SpectralNorm(Strategy):
    """Applies :func:`spectral_normalize` to D (and/or G) in ``setup``; works on any model."""

    name = "spectral-norm"
    summary = "spectral normalization of every weight matrix of D (Miyato 2018)"
    remedies = (3, 8)
    order = 60  # after architecture edits and warm start (40), before freezing (70) and EMA (90)
    options = {
        "nets": nets_option(("d",), "networks to normalise: d, g or g+d"),
        "n_power_iterations": Option(int, 1, "power-iteration steps per forward pass in training", low=1),
    }

    def setup(self, ctx) -> None:
        for net in self.nets:
            spectral_normalize(ctx.G if net == "g" else ctx.D, self.n_power_iterations)
