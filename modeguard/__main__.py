"""``python -m modeguard``: the same as the ``modeguard`` command."""
import sys

from .cli import main

sys.exit(main())
