"""ModeGuard: train GANs that do not collapse."""
from . import defaults  # noqa: F401  (registers the standard callbacks: monitor, figures, TensorBoard)
from .config import TrainConfig
from .errors import ModeGuardError
from .recipes import DEFAULT_RECIPE
from .train import Trainer

__version__ = "0.1.0"
__all__ = ["DEFAULT_RECIPE", "ModeGuardError", "TrainConfig", "Trainer", "__version__"]
