"""Warm start (the article's remedy 9, "transfer learning"): G and/or D begin from another
run's checkpoint instead of random weights.

A D that already knows the data's features, or a G that already covers the modes, starts
the game near a good equilibrium; pair it with ``freeze-d`` (Mo et al. 2020) to keep D's
pretrained low-level features fixed.

Checkpoints from a spectral-normed network and a plain one load into each other: a
spectral-normed source is loaded as its effective weight W / sigma (what it computed), and
a plain weight W becomes a spectral-normed target's ``original`` (which then computes
W / sigma(W)).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..rundir import RunDir
from ._optim import nets_option
from .base import Option, Strategy, register

SN_ORIGINAL = "parametrizations.weight.original"
SN_U = "parametrizations.weight.0._u"
SN_V = "parametrizations.weight.0._v"


def resolve_checkpoint(path: str | Path) -> Path:
    """A ``.pt`` file as given, or a run directory's newest checkpoint."""
    path = Path(path).expanduser()
    if path.is_dir():
        return RunDir(path).latest_checkpoint()
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path


def read_checkpoint(path: Path) -> dict:
    """The checkpoint dict at ``path``, loaded with ``weights_only=True``; CheckpointError when
    it is unreadable or not a ModeGuard checkpoint (a dict with at least ``G``)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types here; all mean "unreadable"
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise CheckpointError(f"strategy 'warm-start': checkpoint {path} is unreadable ({first})") from None
    if not isinstance(state, dict) or "G" not in state:
        raise CheckpointError(f"strategy 'warm-start': {path} is not a ModeGuard checkpoint")
    return state


def _spectral_dim(target: nn.Module, prefix: str) -> int:
    # spectral_norm takes the singular value of the weight with out-channels first:
    # dim 1 for transposed convolutions, 0 for everything else
    try:
        module = target.get_submodule(prefix[:-1]) if prefix else target
    except AttributeError:
        return 0
    return 1 if isinstance(module, nn.modules.conv._ConvTransposeNd) else 0


def fold_spectral_norm(state: dict, target: nn.Module) -> dict:
    """Replace each spectral-normed weight (original, u, v) by its effective W / (u^T W v)."""
    out = dict(state)
    for key in [k for k in state if k.endswith(SN_ORIGINAL)]:
        prefix = key[: -len(SN_ORIGINAL)]
        w, u, v = out.pop(key), out.pop(prefix + SN_U, None), out.pop(prefix + SN_V, None)
        if u is None or v is None:
            out[prefix + "weight"] = w
            continue
        mat = w.movedim(_spectral_dim(target, prefix), 0).flatten(1)
        sigma = torch.dot(u, mat @ v)
        out[prefix + "weight"] = w / sigma
    return out


def map_state_to(source: dict, target: nn.Module, what: str) -> dict:
    """``source`` rewritten to ``target``'s key names; CheckpointError on any mismatch."""
    source = fold_spectral_norm(source, target)
    wanted = target.state_dict()
    mapped: dict = {}
    for key, current in wanted.items():
        if key in source:
            mapped[key] = source.pop(key)
        elif key.endswith(SN_ORIGINAL) and key[: -len(SN_ORIGINAL)] + "weight" in source:
            mapped[key] = source.pop(key[: -len(SN_ORIGINAL)] + "weight")
        elif key.endswith((SN_U, SN_V)):
            mapped[key] = current  # the target's own power-iteration state
        else:
            raise CheckpointError(f"strategy 'warm-start': the checkpoint's {what} has no '{key}' "
                                  f"(was it trained with a different model or strategies?)")
        if tuple(mapped[key].shape) != tuple(current.shape):
            raise CheckpointError(f"strategy 'warm-start': {what} '{key}' has shape {tuple(mapped[key].shape)} "
                                  f"in the checkpoint but {tuple(current.shape)} in this run")
    if source:
        raise CheckpointError(f"strategy 'warm-start': the checkpoint's {what} has '{sorted(source)[0]}', "
                              f"which this run's {what} lacks")
    return mapped


@register
class WarmStart(Strategy):
    """Loads G and/or D from a checkpoint in ``setup``; works on any model whose checkpoint
    keys match (spectral-normed and plain weights convert into each other)."""

    name = "warm-start"
    summary = "initialise G and/or D from another run's checkpoint (transfer learning)"
    remedies = (9,)
    order = 40  # after architecture edits, before spectral norm (60) and freezing (70)
    options = {
        "checkpoint": Option(str, "", "a .pt checkpoint, or a run directory (its newest checkpoint)"),
        "nets": nets_option(("g", "d"), "networks to initialise: g, d or g+d"),
        "ema": Option(bool, False, "take G from the source run's EMA copy (it must have used 'ema')"),
    }

    def validate(self, config) -> None:
        if not self.checkpoint:
            raise ConfigError(f"strategy '{self.name}': option 'checkpoint' is required "
                              f"(a .pt file or a run directory)")
        path = Path(self.checkpoint).expanduser()
        if not path.exists():
            raise ConfigError(f"strategy '{self.name}': option 'checkpoint': {path} does not exist")

    def setup(self, ctx) -> None:
        path = resolve_checkpoint(self.checkpoint)
        state = read_checkpoint(path)
        sources = {"g": state["G"], "d": state.get("D")}
        if self.ema:
            ema_state = state.get("strategies", {}).get("ema", {}).get("G_ema")
            if ema_state is None:
                raise CheckpointError(f"strategy 'warm-start': option 'ema': {path} has no EMA generator")
            sources["g"] = ema_state
        for net in self.nets:
            module = ctx.G if net == "g" else ctx.D
            what = "G" if net == "g" else "D"
            if sources[net] is None:
                raise CheckpointError(f"strategy 'warm-start': {path} holds no {what}")
            module.load_state_dict(map_state_to(sources[net], module, what))
