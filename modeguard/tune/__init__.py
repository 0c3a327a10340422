"""Hyper-parameter search on Ray Tune where a confirmed collapse ends a trial (``modeguard tune``)."""
from .search import TuneResult, compare_collapse_stopping, run_search_file, run_tune
from .space import Search, load_search, score, search_from_dict, trial_config
from .trial import run_trial

__all__ = ["Search", "TuneResult", "compare_collapse_stopping", "load_search", "run_search_file", "run_trial",
           "run_tune", "score", "search_from_dict", "trial_config"]
