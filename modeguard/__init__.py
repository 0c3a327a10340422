"""ModeGuard: train GANs that do not collapse."""
from .config import DEFAULT_RECIPE, TrainConfig
from .errors import ModeGuardError
from .train import Trainer

__version__ = "0.1.0"
__all__ = ["DEFAULT_RECIPE", "ModeGuardError", "TrainConfig", "Trainer", "__version__"]
