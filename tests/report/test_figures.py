"""report.figures: the curves of a run and a strategy set's results, as PNGs."""
from monitor.doctor.fake_run import GARBAGE_LINES, collapse_event, monitor_rows, write_log, write_run

from modeguard.monitor.doctor import read_run
from modeguard.report.figures import EVENT_STYLE, curve_panels, curves_figure, event_style, series, strategy_figure

PNG = b"\x89PNG\r\n\x1a\n"


def test_series_keeps_numbers_only():
    rows = [{"step": 1, "x": 1.0}, {"step": 2, "x": "high"}, {"step": 3, "x": True}, {"step": 4}, {"step": 5, "x": 2}]
    assert series(rows, "x") == ([1, 5], [1.0, 2])
    assert series([], "x") == ([], [])


def test_event_style_of_known_and_unknown_kinds():
    assert event_style("heal") == EVENT_STYLE["heal"]
    assert event_style("new_kind")[2] == "new_kind"


def test_panels_follow_what_was_logged(tmp_path):
    assert curve_panels(read_run(write_run(tmp_path / "empty").path)) == []
    assert curves_figure(read_run(write_run(tmp_path / "empty2").path)) is None
    metrics_only = write_run(tmp_path / "m", metrics=[{"step": 1, "loss_d": 1.0, "d_real_acc": 0.5}])
    assert curve_panels(read_run(metrics_only.path)) == ["losses", "d_acc"]
    full = write_run(tmp_path / "f", metrics=[{"step": 1, "loss_d": 1.0}],
                     monitor=[{**r, "grad_norm_g": 1.0} for r in monitor_rows([10, 20], [8, 2])])
    assert curve_panels(read_run(full.path)) == ["modes", "coverage", "losses", "grads"]


def test_curves_of_a_healed_run_with_garbage_lines(tmp_path):
    run = write_run(tmp_path / "run", metrics=[*GARBAGE_LINES, {"step": 10, "loss_d": 1.0, "loss_g": 0.7}],
                    monitor=[*GARBAGE_LINES, *monitor_rows([10, 20], [8, 2])], evals=[{"step": 20, "modes": 3}],
                    events=[collapse_event(20, 10), collapse_event(20, 20, kind="heal")])
    branch = run.abandoned_branch(1)
    write_log(branch.monitor, monitor_rows([10, 20, 30], [8, 1, 1]))
    write_log(branch.events, [collapse_event(30, 20)])
    png = curves_figure(read_run(run.path))
    assert png[:8] == PNG and len(png) > 10_000


def test_strategy_figure():
    rows = [{"data": d, "modes": 8.0, "hq_pct": 90.0, "rev_kl": None} for d in ("ring8", "grid25") for _ in range(2)]
    assert strategy_figure("r1", rows)[:8] == PNG
    assert strategy_figure("none", [{"data": "ring8"}])[:8] == PNG  # no figures at all: an empty panel
