"""Assembling a run: config -> data, strategies, models, optimizers, in a TrainContext."""
from __future__ import annotations

import torch

from ..config import TrainConfig
from ..data import Dataset, resolve_data
from ..errors import ConfigError
from ..losses import get_loss
from ..models import build_models, spec_for
from ..strategies import parse_strategies
from .context import TrainContext
from .objective import AdversarialObjective


def pick_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA where PyTorch sees a device, else CPU; ``"cuda"`` without one ->
    :class:`ConfigError`; any other name as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but PyTorch sees no CUDA device")
    return torch.device(name)


def resolve_config(config: TrainConfig, data: Dataset) -> TrainConfig:
    """The config with every default filled in, including those of the data's kind."""
    return config.resolve().for_kind(data.kind)


def assemble(config: TrainConfig, data: Dataset | None = None) -> TrainContext:
    """Build everything a run trains: returns a :class:`TrainContext` whose ``config`` is
    fully resolved and whose models, objective and optimizers exist.

    Strategy hooks run in this order: ``validate``, ``configure_models`` (setup order),
    the models are built (seeded with ``config.seed``), ``setup``, the Adam optimizers,
    ``configure_optimizers``. Raises :class:`ConfigError` / :class:`DataError` for bad input.
    """
    data = data if data is not None else resolve_data(config.resolve().data)
    c = resolve_config(config, data)
    torch.set_num_threads(c.threads)
    strategies = parse_strategies(c.strategies)
    for s in strategies:
        s.validate(c)
    spec = spec_for(c.model, c.model_options)
    ctx = TrainContext(c, data, get_loss(c.loss), pick_device(c.device), spec, strategies)
    setup_order = sorted(strategies, key=lambda s: s.order)
    for s in setup_order:
        s.configure_models(spec, ctx)
    torch.manual_seed(c.seed)
    G, D = build_models(spec, data.shape)
    ctx.G, ctx.D = G.to(ctx.device), D.to(ctx.device)
    ctx.objective = AdversarialObjective(ctx.loss)
    for s in setup_order:
        s.setup(ctx)
    ctx.opt_g = ctx.make_adam(ctx.G.parameters(), c.lr_g, (c.beta1, c.beta2))
    ctx.opt_d = ctx.make_adam(ctx.D.parameters(), c.lr_d, (c.beta1, c.beta2))
    for s in setup_order:
        s.configure_optimizers(ctx)
    return ctx
