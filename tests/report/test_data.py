"""report.data: what the reports show, read from disk."""
import pytest
from monitor.doctor.fake_run import collapse_event, config, write_log, write_run

from modeguard.errors import DataError
from modeguard.monitor.doctor import read_run
from modeguard.report.data import (BenchData, event_rows, final_row, heal_rows, mean_std, read_bench_results,
                                   read_run_report, setup_rows)

CSV = ("strategies,data,seed,steps,modes,hq_pct,error\n"
       "none,ring8,0,100,5,90.5,\n"
       "none,ring8,1,100,6,oops,\n"
       "r1,ring8,0,100,8,99,\n"
       ",grid25,0,100,20,80,\n"
       "pacgan,ring8,0,,,,RuntimeError: boom\n"
       "r1,,0,100,8,99,\n")


def test_results_are_parsed_and_grouped(tmp_path):
    (tmp_path / "results.csv").write_text(CSV)
    bench = BenchData.read(tmp_path)
    assert len(bench.rows) == 5  # the row without a data set is dropped
    assert bench.rows[1]["hq_pct"] is None and bench.rows[0]["seed"] == 0.0 and bench.rows[0]["modes"] == 5.0
    assert [r["strategies"] for r in bench.failed] == ["pacgan"]
    assert bench.shown_columns() == ["modes", "hq_pct"]
    assert bench.summary_rows() == [["none", "grid25", 1, "20", "80"], ["none", "ring8", 2, "5.5 ± 0.5", "90.5"],
                                    ["r1", "ring8", 1, "8", "99"]]
    assert list(bench.by_strategy()) == ["none", "r1"]


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe\x00\x01garbage", "not a readable results table"),
    (b"a,b\n1,2\n", "no 'data' column"),
    (b"", "no 'data' column"),
])
def test_broken_results_are_one_data_error(tmp_path, content, message):
    (tmp_path / "results.csv").write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_bench_results(tmp_path / "results.csv")


def test_missing_results_are_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        BenchData.read(tmp_path)


def test_mean_std():
    assert mean_std([1.0, 2.0, None, float("nan")]) == "1.5 ± 0.5"
    assert mean_std([3.0]) == "3" and mean_std([None]) == "-"


def test_rows_of_the_run_tables(tmp_path):
    heal = {"heal": 1, "cause": "collapse_confirmed", "cause_step": 40, "rolled_back_to": 30, "change": "c"}
    assert heal_rows([heal]) == [[1, "collapse confirmed", 40, 30, "c", "-"]]
    assert final_row({"hq_pct": 90.0, "modes": 8, "n": 5}) == (["modes", "hq_pct"], [8, 90.0])

    run = write_run(tmp_path / "run", heals={"heals": [heal]},
                    events=[collapse_event(35, 30, branch=1), collapse_event(30, 30, kind="heal", branch=1)])
    write_log(run.abandoned_branch(1).events, [collapse_event(40, 30)])
    labels = [(e.kind, e.step, label) for e, label in event_rows(read_run(run.path))]
    # the abandoned branch first, then the heal, then what came after it
    assert labels == [("collapse_confirmed", 40, "abandoned before heal 1"), ("heal", 30, "after heal 1"),
                      ("collapse_confirmed", 35, "after heal 1")]


def test_read_run_report_gathers_pictures_and_the_original_config(tmp_path):
    run = write_run(tmp_path / "run", cfg=config(strategies="r1"))
    config(strategies="none").save(run.original_config)
    for step in (20, 10):
        run.sample_path(step).parent.mkdir(exist_ok=True)
        run.sample_path(step).write_bytes(b"\x89PNG")
    branch = run.abandoned_branch(1)
    branch.samples_dir.mkdir(parents=True)
    (branch.samples_dir / "step-00000005.png").write_bytes(b"\x89PNG")
    data = read_run_report(run.path)
    assert data.snapshots == [run.sample_path(10), run.sample_path(20)] and data.final_samples is None
    assert data.branch_snapshots == [("abandoned before heal 1", [branch.samples_dir / "step-00000005.png"])]
    rows = dict((k, v) for k, v in setup_rows(data))
    assert rows["strategies"] == "r1" and rows["strategies before healing"] == "none (plain GAN)"
    assert rows["steps"] == "0 of 100 (" + data.diagnosis.status + ")"
    assert rows["collapse monitor"] == "every 10 steps, on collapse: warn"

    run.original_config.write_bytes(b"\xff\xfe")  # an unreadable history is left out, not fatal
    assert "strategies before healing" not in dict((k, v) for k, v in setup_rows(read_run_report(run.path)))
