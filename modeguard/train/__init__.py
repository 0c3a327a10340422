"""Training: assembly, the step's phase table, the loop, checkpoints and callbacks."""
from .assembly import assemble, pick_device
from .callbacks import Callback, register_standard_callbacks, standard_callbacks
from .checkpoint import RunDir, load_checkpoint, save_checkpoint
from .context import TrainContext
from .objective import AdversarialObjective, Batch
from .signals import Interrupted
from .step import PhaseTable, Step, d_accuracy
from .trainer import COLLAPSE, Trainer

__all__ = ["AdversarialObjective", "Batch", "COLLAPSE", "Callback", "Interrupted", "PhaseTable", "RunDir", "Step",
           "TrainContext", "Trainer", "assemble", "d_accuracy", "load_checkpoint", "pick_device",
           "register_standard_callbacks", "save_checkpoint", "standard_callbacks"]
