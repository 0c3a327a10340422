"""Assembling a run: config -> data, strategies, models, optimizers, in a TrainContext."""
from __future__ import annotations

import torch

from ..allocator import keep_freed_memory
from ..config import TrainConfig
from ..data import Dataset, ImageSet, as_dataset, resolve_data
from ..data.limit import limit_data
from ..data.loader import BatchLoader
from ..distributed import from_env
from ..errors import ConfigError
from ..losses import get_loss
from ..models import build_models, spec_for, user_models
from ..recipes import is_default_recipe
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
    return config.resolve(data.kind).for_kind(data.kind)


def assemble(config: TrainConfig, data=None, generator: torch.nn.Module | None = None,
             discriminator: torch.nn.Module | None = None) -> TrainContext:
    """Build everything a run trains: returns a :class:`TrainContext` whose ``config`` is
    fully resolved and whose models, objective and optimizers exist.

    data: a :class:`Dataset`, or the user's data (a tensor / array ``(n, ...)`` or a torch
    ``Dataset``; see :func:`modeguard.data.as_dataset`); default: ``config.data``.
    generator / discriminator: the user's ready-made models (both or neither), used in
    place of ``config.model``; G maps ``(n, z_dim)`` to ``(n, *data.shape)``, D samples to
    ``(n,)`` or ``(n, 1)`` logits.

    Strategy hooks run in this order: ``validate``, ``configure_models`` (setup order),
    the models are built (seeded with ``config.seed``), ``check_models``, ``setup``, the
    Adam optimizers, ``configure_optimizers``. Raises :class:`ConfigError` /
    :class:`~modeguard.errors.DataError` for bad input, one line each.
    """
    if (generator is None) != (discriminator is None):
        raise ConfigError("give both generator= and discriminator=, or neither")
    if data is None:
        resolved = config.resolve()
        data = resolve_data(resolved.data, workers=resolved.loader_workers)
    elif not isinstance(data, Dataset):
        data = as_dataset(data, name=config.data if isinstance(config.data, str) else "data")
    c = resolve_config(config, data)
    data = limit_data(data, c.data_limit, c.seed)
    torch.set_num_threads(c.threads)
    strategies = parse_strategies(c.strategies)
    for s in strategies:
        s.validate(c)
    spec = user_models(generator, discriminator) if generator is not None else spec_for(c.model, c.model_options)
    ctx = TrainContext(c, data, get_loss(c.loss), pick_device(c.device), spec, strategies)
    if ctx.device.type == "cpu":
        keep_freed_memory()  # no page faults for the tensors every step frees and allocates again
    ctx.dist = from_env(ctx.device, c.batch_size)
    if ctx.dist is not None:
        c.world_size = ctx.dist.world_size
    ctx.loader = _batch_loader(c, data, ctx)
    setup_order = sorted(strategies, key=lambda s: s.order)
    for s in setup_order:
        s.configure_models(spec, ctx)
    torch.manual_seed(c.seed)
    G, D = build_models(spec, data.shape)
    kept = _fitting_strategies(strategies, G, D, spec, from_recipe=is_default_recipe(config.strategies))
    if len(kept) < len(strategies):  # the recipe, less what the user's models cannot take
        ctx.strategies = strategies = kept
        setup_order = [s for s in setup_order if s in kept]
        c.strategies = [s.spec_string() for s in kept]
    ctx.G, ctx.D = G.to(ctx.device), D.to(ctx.device)
    ctx.objective = AdversarialObjective(ctx.loss)
    for s in setup_order:
        s.setup(ctx)
    if c.compile:
        compile_models(ctx)
    ctx.opt_g = ctx.make_adam(ctx.G.parameters(), c.lr_g, (c.beta1, c.beta2))
    ctx.opt_d = ctx.make_adam(ctx.D.parameters(), c.lr_d, (c.beta1, c.beta2))
    for s in setup_order:
        s.configure_optimizers(ctx)
    return ctx


def compile_models(ctx: TrainContext) -> None:
    """``--compile``: G and D compiled in place (``nn.Module.compile``: their state dicts, and so
    the checkpoints, keep their keys); copies made in ``setup`` (EMA) stay eager. Raises
    ConfigError, before any step, where a strategy needs a double backward, which
    ``torch.compile``'s autograd does not support."""
    blocking = [s.name for s in ctx.strategies if s.double_backward]
    if blocking:
        raise ConfigError(f"--compile cannot train {', '.join(blocking)}: torch.compile has no double backward "
                          f"(their penalties differentiate D's gradient); drop --compile or those strategies")
    ctx.G.compile()
    ctx.D.compile()


def _batch_loader(c: TrainConfig, data: Dataset, ctx: TrainContext) -> BatchLoader | None:
    """The worker processes that feed real batches (``loader_workers > 0``; image sets only)."""
    if not c.loader_workers:
        return None
    if not isinstance(data, ImageSet):
        raise ConfigError(f"loader_workers applies to image sets (images:DIR, mnist, fashion-mnist, digits); "
                          f"{c.data} is drawn in the training process, use loader_workers 0")
    rows = ctx.dist.share(c.batch_size) if ctx.dist is not None else None
    return BatchLoader(data, c.seed, c.batch_size, c.loader_workers, pin=ctx.device.type == "cuda", rows=rows)


def _fitting_strategies(strategies: list, G, D, spec, from_recipe: bool) -> list:
    """The strategies whose ``check_models`` accepts the built models. A strategy the user
    asked for that does not fit raises its one-line ConfigError; one that came with the
    default recipe is left out instead (``config.yaml`` then lists the recipe without it)."""
    kept = []
    for s in strategies:
        try:
            s.check_models(G, D, spec)
        except ConfigError:
            if not from_recipe:
                raise
            continue
        kept.append(s)
    return kept
