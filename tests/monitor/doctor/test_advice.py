"""doctor.advice: what to try, as flags of modeguard train."""
from modeguard.monitor.doctor.advice import advice, next_strategy
from modeguard.monitor.doctor.classify import classify
from modeguard.monitor.doctor.read import read_run

from .fake_run import collapse_event, config, monitor_rows, write_run


def _advice(run):
    record = read_run(run.path)
    return advice(record, classify(record, 8))


def test_next_strategy_adds_r1_first_then_the_ladder():
    assert next_strategy(config(strategies="none")) == "r1"
    more = next_strategy(config(strategies="r1"))
    assert more is not None and more.startswith("r1,") and more != "r1,r1"


def test_collapsed_plain_gan_is_told_to_heal_and_add_strategies(tmp_path):
    run = write_run(tmp_path / "run", events=[collapse_event(30, since=20)], monitor=monitor_rows([10], [8]))
    out = _advice(run)
    assert out[0].startswith("let ModeGuard heal it: modeguard train --data ring8")
    assert "or train again with more strategies, e.g. --strategy r1" in out
    assert any(a.startswith("the plain GAN (--strategy none) collapses easily") for a in out)


def test_healed_run_that_still_collapsed_asks_for_more_heals(tmp_path):
    run = write_run(tmp_path / "run", cfg=config(on_collapse="heal", max_heals=2), events=[collapse_event(30, since=20)],
                    monitor=monitor_rows([10], [8]),
                    heals={"heals": [{"heal": 1, "cause": "collapse_confirmed", "cause_step": 10, "rolled_back_to": 0,
                                      "change": "x"}]})
    assert any("--max-heals 4" in a for a in _advice(run))


def test_divergence_low_quality_and_no_monitor(tmp_path):
    run = write_run(tmp_path / "div", events=[collapse_event(70, since=70, kind="diverged")])
    out = _advice(run)
    assert out[0].startswith("lower the learning rates (e.g. --lr-g 0.0001 --lr-d 0.0001)")
    assert out[-1].startswith("watch the next run live")
    low = write_run(tmp_path / "low", monitor=monitor_rows([10], [8]), final={"modes": 8, "hq_pct": 50.0})
    assert _advice(low) == ["only 50% of the samples are high quality (within 3 std of a mode): train longer "
                            "(--steps 200) or lower the learning rates"]
    fine = write_run(tmp_path / "fine", monitor=monitor_rows([10], [8]), final={"modes": 8, "hq_pct": 99.0})
    assert _advice(fine) == ["nothing to fix; 'modeguard report' draws the curves"]
