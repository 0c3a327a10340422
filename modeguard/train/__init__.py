"""Training: the trainer loop, its context, checkpoints and the run directory."""
from .callbacks import Callback
from .checkpoint import RunDir, load_checkpoint, save_checkpoint
from .context import TrainContext
from .objective import AdversarialObjective, Batch
from .trainer import Interrupted, Trainer, pick_device

__all__ = ["AdversarialObjective", "Callback", "Batch", "Interrupted", "RunDir", "TrainContext", "Trainer",
           "load_checkpoint", "pick_device", "save_checkpoint"]
