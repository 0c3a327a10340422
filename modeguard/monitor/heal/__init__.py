"""Self-healing training (see :mod:`.loop`): the ladder's language, moving weights across a
heal, archiving the abandoned branch, and the loop that ties them together."""
from .archive import HealRecord, archive_branch
from .ladder import DEFAULT_LADDER, RECIPE_RUNG, SCALABLE_FIELDS, Rung, parse_ladder
from .loop import QUIET_CHECKS, heal_loop, heal_once, train_with_healing
from .transplant import transplant

__all__ = ["DEFAULT_LADDER", "HealRecord", "QUIET_CHECKS", "RECIPE_RUNG", "Rung", "SCALABLE_FIELDS", "archive_branch",
           "heal_loop", "heal_once", "parse_ladder", "train_with_healing", "transplant"]
