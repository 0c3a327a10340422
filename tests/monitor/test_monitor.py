"""CollapseMonitor on synthetic streams: collapses are confirmed quickly with evidence,
healthy streams raise nothing, divergence and D overpowering are reported."""
import json
import math

import numpy as np
import pytest
import torch

from modeguard.data import resolve_data
from modeguard.errors import ConfigError
from modeguard.metrics import prdc
from modeguard.metrics.prdc import kth_nn_radius
from modeguard.monitor import CollapseMonitor, Event
from modeguard.monitor.events import Evidence, append_events, read_events
from modeguard.monitor.monitor import coverage_density


def _mixture(name="ring8"):
    data = resolve_data(name)
    return data, data.reference(600, seed=777)


def _monitor(data, ref, **kw):
    m = data.modes
    opts = dict(warmup_steps=300, stall_steps=2000)
    opts.update(kw)
    return CollapseMonitor(ref, m.centers, m.std, **opts)


def _real(data, n, gen):
    return data.sample(n, gen).numpy()


def _one_mode(data, n, rng, mode=0):
    m = data.modes
    return m.centers[mode] + m.std * rng.standard_normal((n, m.centers.shape[1]))


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_collapse_to_one_mode_is_confirmed_within_patience_checks(name):
    data, ref = _mixture(name)
    mon = _monitor(data, ref, patience=3)
    gen, rng = torch.Generator().manual_seed(1), np.random.default_rng(1)
    events = []
    for step in range(100, 4001, 100):
        fake = _real(data, 500, gen) if step < 2000 else _one_mode(data, 500, rng)
        events += mon.update(step, fake)
    kinds = [e.kind for e in events]
    assert kinds == ["collapse_suspected", "collapse_confirmed"]
    suspected, confirmed = events
    assert suspected.step == 2000 and confirmed.step == 2200  # the 3rd bad check
    assert confirmed.since == 2000
    modes = next(e for e in confirmed.evidence if e.figure == "modes")
    assert modes.value == 1 and modes.healthy == pytest.approx(len(data.modes.centers), abs=0.01)
    assert modes.deviation > 0.8 and modes.since == 2000
    assert "modes 1 vs" in confirmed.message


def test_losing_one_mode_of_eight_is_confirmed():
    data, ref = _mixture("ring8")
    mon = _monitor(data, ref)
    gen = torch.Generator().manual_seed(2)
    events = []
    for step in range(100, 3001, 100):
        fake = _real(data, 800, gen)
        if step >= 2000:  # mode 3 is gone: its samples go to mode 4
            nearest = ((fake[:, None, :] - data.modes.centers[None]) ** 2).sum(-1).argmin(1)
            fake[nearest == 3] += data.modes.centers[4] - data.modes.centers[3]
        events += mon.update(step, fake)
    confirmed = [e for e in events if e.kind == "collapse_confirmed"]
    assert len(confirmed) == 1 and confirmed[0].step <= 2200
    assert confirmed[0].evidence[0].figure == "modes" and confirmed[0].evidence[0].value == 7


@pytest.mark.parametrize("name,n", [("ring8", 1000), ("grid25", 1000), ("grid25", 300)])
def test_healthy_stream_raises_nothing(name, n):
    data, ref = _mixture(name)
    mon = _monitor(data, ref)
    gen = torch.Generator().manual_seed(3)
    events = []
    for step in range(50, 10001, 50):  # 200 checks
        events += mon.update(step, _real(data, n, gen), d_real_acc=0.6, d_fake_acc=0.55, loss_d=1.2, loss_g=0.8)
    assert events == []
    assert mon.last.healthy


def test_a_run_still_climbing_is_not_stuck_but_one_that_stopped_is():
    data, ref = _mixture("ring8")
    rng = np.random.default_rng(4)

    def fakes(modes_alive):
        idx = rng.integers(modes_alive, size=800)
        m = data.modes
        return m.centers[idx] + m.std * rng.standard_normal((800, 2))

    climbing = _monitor(data, ref, warmup_steps=100, stall_steps=1000)
    events = []
    for i, step in enumerate(range(100, 4001, 100)):
        events += climbing.update(step, fakes(min(8, 1 + i // 5)))  # one more mode every 500 steps
    assert [e.kind for e in events if e.kind == "collapse_confirmed"] == []

    stuck = _monitor(data, ref, warmup_steps=100, stall_steps=1000)
    events = []
    for step in range(100, 4001, 100):
        events += stuck.update(step, fakes(3))
    confirmed = [e for e in events if e.kind == "collapse_confirmed"]
    assert len(confirmed) == 1
    # no progress since the 2nd reading (200): stuck from 1200 on, confirmed 2 checks later
    assert 1200 <= confirmed[0].step <= 1500
    assert confirmed[0].evidence[0].basis == "ideal"


def test_recovered_after_collapse_ends():
    data, ref = _mixture("ring8")
    mon = _monitor(data, ref, recover_after=2)
    gen, rng = torch.Generator().manual_seed(5), np.random.default_rng(5)
    events = []
    for step in range(100, 3001, 100):
        bad = 1000 <= step < 1600
        events += mon.update(step, _one_mode(data, 500, rng) if bad else _real(data, 500, gen))
    kinds = [e.kind for e in events]
    assert kinds == ["collapse_suspected", "collapse_confirmed", "recovered"]
    assert events[-1].step == 1700 and events[-1].since == 1000


def test_unknown_modes_use_coverage_and_diversity():
    data, ref = _mixture("grid25")
    mon = CollapseMonitor(ref, warmup_steps=300, stall_steps=5000)
    gen, rng = torch.Generator().manual_seed(6), np.random.default_rng(6)
    events = []
    for step in range(100, 3001, 100):
        events += mon.update(step, _real(data, 600, gen) if step < 2000 else _one_mode(data, 600, rng))
    confirmed = [e for e in events if e.kind == "collapse_confirmed"]
    assert len(confirmed) == 1 and confirmed[0].step == 2200
    assert {e.figure for e in confirmed[0].evidence} == {"coverage", "diversity"}


def test_mode_labels_path():
    rng = np.random.default_rng(7)
    ref = rng.standard_normal((500, 4))
    mon = CollapseMonitor(ref, num_modes=10, warmup_steps=200, stall_steps=5000)
    events = []
    for step in range(100, 2001, 100):
        feats = rng.standard_normal((500, 4))
        labels = rng.integers(10, size=500) if step < 1000 else np.zeros(500, dtype=int)
        events += mon.update(step, feats, fake_modes=labels)
    confirmed = [e for e in events if e.kind == "collapse_confirmed"]
    assert confirmed and confirmed[0].step == 1200
    assert confirmed[0].evidence[0].figure == "modes" and confirmed[0].evidence[0].value == 1


def _skewed_modes(rng, n, num_modes, sigma, alive):
    """Labels of a generator over ``alive`` of ``num_modes`` modes, uneven by a log-normal sigma."""
    p = np.exp(sigma * rng.standard_normal(alive))
    return rng.choice(alive, size=n, p=p / p.sum())


def test_many_modes_healthy_but_uneven_is_quiet_and_a_lost_tenth_is_confirmed():
    # 1000 modes seen through 1000 samples: the alive count wanders by ~15 from check to
    # check; a healthy generator that is a little uneven (KL ~0.1) must not raise an alarm,
    # one that lost 15% of its modes must
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((1000, 4))

    def run(alive_after):
        mon = CollapseMonitor(ref, num_modes=1000, warmup_steps=500, stall_steps=2500, total_steps=10000)
        events = []
        for step in range(200, 10001, 200):
            alive = 1000 if step < 6000 else alive_after
            labels = _skewed_modes(rng, 1000, 1000, 0.45, alive)
            events += mon.update(step, rng.standard_normal((1000, 4)), fake_modes=labels)
        return [e for e in events if e.kind == "collapse_confirmed"]

    assert run(alive_after=1000) == []
    lost = run(alive_after=850)
    assert lost and 6000 <= lost[0].step <= 7000 and lost[0].evidence[0].figure == "modes"


@pytest.mark.parametrize("alive, sigma, flagged", [(1000, 0.7, False), (700, 0.0, True)])
def test_many_modes_uneven_but_complete_is_not_stuck_and_never_covered_is(alive, sigma, flagged):
    # 5,000 fakes over 1000 modes (what the trainer's callback draws): a complete generator
    # whose frequencies vary (KL ~0.25) is no collapse; one that never found 30% of the modes is
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((1000, 4))
    mon = CollapseMonitor(ref, num_modes=1000, warmup_steps=500, stall_steps=2500, total_steps=10000)
    events = []
    for step in range(200, 10001, 200):
        labels = _skewed_modes(rng, 5000, 1000, sigma, alive)
        events += mon.update(step, rng.standard_normal((5000, 4)), fake_modes=labels)
    confirmed = [e for e in events if e.kind == "collapse_confirmed"]
    assert bool(confirmed) == flagged
    if flagged:
        assert confirmed[0].evidence[0].figure == "modes" and confirmed[0].evidence[0].basis == "ideal"


def test_diverged_on_nan_loss_and_non_finite_fakes():
    data, ref = _mixture("ring8")
    gen = torch.Generator().manual_seed(8)
    mon = _monitor(data, ref)
    assert mon.update(100, _real(data, 300, gen), loss_d=0.7, loss_g=0.7) == []
    events = mon.update(200, _real(data, 300, gen), loss_d=float("nan"), loss_g=0.7)
    assert [e.kind for e in events] == ["diverged"]
    assert events[0].evidence[0].figure == "loss_d" and math.isnan(events[0].evidence[0].value)
    assert mon.update(300, _real(data, 300, gen), loss_d=float("nan")) == []  # reported once

    mon = _monitor(data, ref)
    fake = _real(data, 300, gen)
    fake[5] = np.inf
    events = mon.update(100, fake)
    assert [e.kind for e in events] == ["diverged"] and "fake samples" in events[0].message


def test_d_overpowering():
    data, ref = _mixture("ring8")
    gen = torch.Generator().manual_seed(9)
    mon = _monitor(data, ref, patience=3)
    kinds = []
    for step in range(100, 1001, 100):
        acc = 0.99 if step >= 500 else 0.6
        kinds += [e.kind for e in mon.update(step, _real(data, 300, gen), d_real_acc=acc, d_fake_acc=acc)]
    assert kinds == ["d_overpowering"]


def test_d_winning_during_the_warm_up_is_not_reported():
    data, ref = _mixture("ring8")
    gen = torch.Generator().manual_seed(9)
    mon = _monitor(data, ref, patience=3, warmup_steps=500)
    kinds = []
    for step in range(100, 1001, 100):
        acc = 0.99 if step < 500 else 0.6  # D wins outright at the start only
        kinds += [e.kind for e in mon.update(step, _real(data, 300, gen), d_real_acc=acc, d_fake_acc=acc)]
    assert kinds == []


def test_coverage_density_match_prdc():
    data, ref = _mixture("grid25")
    fake = _real(data, 700, torch.Generator().manual_seed(10)) * 1.01
    mon = CollapseMonitor(ref)
    figures, _ = mon.measure(fake)
    expected = prdc(ref, fake, k=5)
    assert figures["coverage"] == pytest.approx(expected["coverage"], abs=1e-9)
    assert figures["density"] == pytest.approx(expected["density"], abs=1e-9)
    # the k-NN pass on its own, with the reference's radii computed once
    shift = torch.as_tensor(ref).double().mean(0)
    real = (torch.as_tensor(ref).double() - shift).float()
    direct = coverage_density(real, kth_nn_radius(real, 5, chunk=2048), (torch.as_tensor(fake).double() - shift).float(), 5)
    assert direct["coverage"] == figures["coverage"] and direct["density"] == pytest.approx(figures["density"])


def test_state_round_trip_gives_the_same_decisions():
    data, ref = _mixture("ring8")
    rng = np.random.default_rng(11)
    stream = [(s, _one_mode(data, 400, rng) if s >= 1500 else data.sample(400, torch.Generator().manual_seed(s)).numpy())
              for s in range(100, 2501, 100)]
    a = _monitor(data, ref)
    for s, x in stream[:12]:
        a.update(s, x)
    b = _monitor(data, ref)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    ev_a = [str(e) for s, x in stream[12:] for e in a.update(s, x)]
    ev_b = [str(e) for s, x in stream[12:] for e in b.update(s, x)]
    assert ev_a == ev_b and any("confirmed" in e for e in ev_a)


def test_quiet_period_raises_nothing():
    data, ref = _mixture("ring8")
    gen, rng = torch.Generator().manual_seed(12), np.random.default_rng(12)
    mon = _monitor(data, ref)
    for step in range(100, 1001, 100):
        mon.update(step, _real(data, 400, gen))
    mon.quiet(until_step=1500)
    assert [e for s in range(1100, 1500, 100) for e in mon.update(s, _one_mode(data, 400, rng))] == []
    assert [e.kind for e in mon.update(1500, _one_mode(data, 400, rng))] == ["collapse_suspected"]


def test_bad_inputs_are_config_errors():
    data, ref = _mixture("ring8")
    with pytest.raises(ConfigError, match="centers"):
        CollapseMonitor(ref, centers=np.zeros((8, 3)), std=0.01)
    with pytest.raises(ConfigError, match="std"):
        CollapseMonitor(ref, centers=data.modes.centers)
    with pytest.raises(ConfigError, match="reference"):
        CollapseMonitor(ref[:5])
    mon = CollapseMonitor(ref)
    with pytest.raises(ConfigError, match="values per sample"):
        mon.update(1, np.zeros((50, 3)))


def test_events_round_trip_through_jsonl(tmp_path):
    ev = Event("diverged", 7, "loss is nan", [Evidence("loss_d", float("nan"), 0.0, 0.0, float("inf"), 7, "finite")],
               since=7, details={"path": tmp_path})
    path = tmp_path / "events.jsonl"
    append_events(path, [ev, ev])
    path.write_text(path.read_text() + '{"kind": "heal", "st')  # a line cut short by a crash
    back = read_events(path)
    assert len(back) == 2
    assert back[0].kind == "diverged" and back[0].step == 7 and math.isnan(back[0].evidence[0].value)
    assert back[0].evidence[0].deviation == float("inf")
    json.loads(path.read_text().splitlines()[0])  # strict JSON (no NaN literals)


def test_a_run_crawling_too_slowly_to_cover_every_mode_is_flagged_in_its_second_half():
    data, ref = _mixture("ring8")
    rng = np.random.default_rng(13)

    def fakes(modes_alive):
        idx = rng.integers(modes_alive, size=800)
        return data.modes.centers[idx] + data.modes.std * rng.standard_normal((800, 2))

    def run(pace_every):  # one more mode every `pace_every` steps, from 2 modes
        mon = _monitor(data, ref, warmup_steps=1000, stall_steps=2500, total_steps=10000)
        return [e for step in range(200, 10001, 200)
                for e in mon.update(step, fakes(min(8, 2 + step // pace_every)))]

    slow = [e for e in run(2400) if e.kind == "collapse_confirmed"]  # would end with 6 of 8
    assert len(slow) == 1 and 5000 <= slow[0].step <= 5600
    assert "at its pace it would reach" in slow[0].message
    assert [e for e in run(1200) if e.kind == "collapse_confirmed"] == []  # all 8 by step 7200


def _stacked_run(modes_at, seed=21, n=1000, total=10000):
    """Confirmations of a 1000-mode run checked like the trainer's callback does (1000 fakes,
    a check every 2%, warm-up 10%, stall window 25%), ``modes_at(step, rng)`` giving the modes
    the generator draws from at each check (uniformly)."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((1000, 4))
    mon = CollapseMonitor(ref, num_modes=1000, warmup_steps=total // 10, stall_steps=total // 4, total_steps=total)
    confirmed = []
    for step in range(total // 50, total + 1, total // 50):
        modes = rng.choice(1000, size=modes_at(step, rng), replace=False)
        events = mon.update(step, rng.standard_normal((n, 4)), fake_modes=rng.choice(modes, size=n))
        confirmed += [e for e in events if e.kind == "collapse_confirmed"]
    return confirmed


#: distinct label triples of 10,000 samples at checks 200, 400, ... 3000 of the three plain
#: (``none``) stacked-digits runs of the detection table (benchmarks/results/monitor-detect.jsonl)
PLAIN_STACKED_MODES = [[4, 2, 6, 4, 2, 5, 7, 3, 5, 2, 1, 5, 7, 2, 18],
                       [7, 10, 7, 8, 6, 2, 12, 3, 2, 2, 3, 8, 6, 23, 9],
                       [6, 3, 6, 3, 7, 11, 4, 3, 8, 4, 2, 9, 5, 2, 1]]


@pytest.mark.parametrize("series", PLAIN_STACKED_MODES)
def test_a_run_that_never_found_the_modes_is_confirmed_by_a_quarter_of_the_run(series):
    # a collapsed generator whose count wanders by sampling noise and drift: no progress
    confirmed = _stacked_run(lambda step, rng: series[min(step // 200, len(series)) - 1])
    assert confirmed and confirmed[0].step <= 2500
    assert confirmed[0].evidence[0].figure == "modes" and "no progress" in confirmed[0].message


@pytest.mark.parametrize("seed", [21, 22])
def test_a_slowly_but_genuinely_improving_many_mode_run_is_not_stuck(seed):
    # from 20 modes to ~700 over the run (about 14 modes more per check)
    assert _stacked_run(lambda step, rng: 20 + step * 7 // 100, seed=seed) == []


def test_a_healthy_run_that_takes_off_after_the_warm_up_is_not_stuck():
    # a few modes until 14% of the run, then every mode within a few checks
    assert _stacked_run(lambda step, rng: int(rng.integers(1, 4)) if step < 1400
                        else min(1000, 100 * 2 ** ((step - 1400) // 200))) == []



@pytest.mark.parametrize("far_progress, confirmed_by_quarter", [(0.05, True), (0.0, False)])
def test_a_count_far_below_real_data_creeping_up_by_noise_sized_steps_stays_stuck(far_progress,
                                                                                    confirmed_by_quarter):
    # like a plain stacked-digits run climbing from 5 to 19 of 1000 triples: each rise is beyond
    # the count's sampling noise, but no real share of the way to real data's ~630
    ref = torch.randn(300, 4, generator=torch.Generator().manual_seed(0))
    mon = CollapseMonitor(ref, num_modes=1000, warmup_steps=1000, stall_steps=2500, total_steps=10000,
                          far_progress=far_progress)
    confirmed = []
    for i, step in enumerate(range(200, 2600, 200)):
        figures = {"n": 1000, "modes": 5.0 + 8 * (i // 4), "diversity": 0.6, "coverage": 0.05}
        confirmed += [e.step for e in mon.observe(step, figures) if e.kind == "collapse_confirmed"]
    assert bool(confirmed) is confirmed_by_quarter
