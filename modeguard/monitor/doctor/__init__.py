"""``modeguard doctor RUN_DIR``: what happened to a run, in plain words.

Reads whatever the run left (finished, stopped, crashed or still going): the config, the
metrics, the mode metrics at each sample snapshot, the collapse monitor's readings and
events, the heals and the abandoned branches of a healed run, the final evaluation, and
the checkpoints. Where the data has known modes it samples every checkpoint and names the
modes lost between the best one and the latest. Then it says what to try.

One module per step: :mod:`.read` (the run's files, cleaned) -> :mod:`.classify` (status,
collapse episodes) -> :mod:`.verdict` (the story in words; :mod:`.modes` names the lost
modes) -> :mod:`.advice` (what to try); :mod:`.diagnosis` runs them.
"""
from .classify import RUNNING_WITHIN_S, Classification, allowed_missing, classify
from .diagnosis import Diagnosis, diagnose, doctor_text, explain
from .modes import MAX_LISTED, CheckpointModes, compare_mode_counts
from .read import RunRecord, read_run

__all__ = ["CheckpointModes", "Classification", "Diagnosis", "MAX_LISTED", "RUNNING_WITHIN_S", "RunRecord",
           "allowed_missing", "classify", "compare_mode_counts", "diagnose", "doctor_text", "explain",
           "read_run"]
