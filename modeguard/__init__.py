"""ModeGuard: train GANs that do not collapse."""
import sys as _sys
from pathlib import PurePath as _PurePath


def _started_as_command() -> bool:
    """True in the ``modeguard`` command's own process (the console script or ``python -m modeguard``)."""
    argv = _sys.orig_argv  # the interpreter's own flags too (Python >= 3.10)
    by_module = "-m" in argv and argv[argv.index("-m") + 1:][:1] == ["modeguard"]
    return by_module or _PurePath(_sys.argv[0] if _sys.argv else "").name == "modeguard"


def _interrupt_in_one_line(kind, value, tb) -> None:
    """The command's hook for an exception nothing caught: Ctrl-C while it starts (PyTorch
    loading, before :func:`modeguard.cli.main` can catch it) is one line, as during a command;
    Python then ends the process by SIGINT (exit status 130). Other exceptions as usual."""
    if issubclass(kind, KeyboardInterrupt):
        print("modeguard: interrupted", file=_sys.stderr)
    else:
        _sys.__excepthook__(kind, value, tb)


if _started_as_command():
    _sys.excepthook = _interrupt_in_one_line

from . import defaults  # noqa: E402,F401  (registers the standard callbacks: monitor, figures, TensorBoard)
from .config import TrainConfig  # noqa: E402
from .errors import ModeGuardError  # noqa: E402
from .recipes import DEFAULT_RECIPE  # noqa: E402
from .train import Trainer  # noqa: E402

__version__ = "0.1.0"
__all__ = ["DEFAULT_RECIPE", "ModeGuardError", "TrainConfig", "Trainer", "__version__"]
