"""doctor.modes: naming modes, sampling checkpoints, and the modes a run lost."""
from modeguard.data import resolve_data
from modeguard.monitor.doctor.modes import (MAX_LISTED, CheckpointModes, checkpoint_modes, compare_mode_counts,
                                            lost_modes, mode_namer)
from modeguard.monitor.doctor.read import read_run

from .fake_run import monitor_rows, write_run


def test_mode_names_of_a_mixture():
    name = mode_namer(resolve_data("ring8"))
    assert name(0) == "mode 0 at (1.00, 0.00)" and name(2).startswith("mode 2 at (0.00, 1.00)")


def test_lost_modes_from_checkpoints_before_monitor_rows():
    ckpts = [CheckpointModes(10, "main", 8, [30] * 8), CheckpointModes(20, "main", 2, [120, 120] + [0] * 6),
             CheckpointModes(15, "abandoned/heal-1", 1, [240] + [0] * 7)]
    lost = lost_modes(ckpts, [], None)
    assert len(lost) == 6 and lost[0] == "mode 2: 30 samples at step 10, 0 at step 20"
    # a fall within the slack is no loss
    assert lost_modes(ckpts, [], None, slack=6) == []


def test_lost_modes_from_monitor_rows_skip_malformed_counts():
    rows = monitor_rows([10, 20], [8, 6]) + [{"step": 30, "modes": 1, "mode_counts": "junk"}]
    assert lost_modes([], rows, lambda i: f"m{i}") == ["m6: 30 samples at step 10, 0 at step 20",
                                                       "m7: 30 samples at step 10, 0 at step 20"]
    assert lost_modes([], monitor_rows([10], [8]), None) == []


def test_compare_lists_the_biggest_losses_in_mode_order():
    best = [12] * 30 + [50] * 5
    now = [0] * 35
    lost = compare_mode_counts(best, now, lambda i: f"m{i}", "a", "b")
    assert len(lost) == MAX_LISTED + 1 and lost[-1] == f"... and {35 - MAX_LISTED} more"
    named = [int(x.split(":")[0][1:]) for x in lost[:-1]]
    assert named == sorted(named) and set(range(30, 35)) <= set(named)


def test_checkpoint_modes_skip_unreadable_checkpoints(tmp_path):
    run = write_run(tmp_path / "run")
    run.checkpoint_dir.mkdir()
    run.checkpoint_path(10).write_bytes(b"\x00not a checkpoint")
    assert checkpoint_modes(read_run(run.path), n=100) == []
