"""modeguard report: one self-contained HTML file for a run or a benchmark folder."""
import base64
import csv
import re

from monitor.doctor.fake_run import GARBAGE_LINES, collapse_event, monitor_rows, write_run
from monitor.helpers import healed_run

from modeguard.cli import main
from modeguard.report.html import bench_report, run_report


def _self_contained(text: str) -> None:
    srcs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert srcs, "the report has pictures"
    assert not [s for s in srcs if not s.startswith("data:image/png;base64,")]
    assert "http://" not in text and "https://" not in text and "<script" not in text
    for s in srcs:  # every picture decodes to a PNG
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_report_has_every_section_and_fetches_nothing(tiny_config, tmp_path):
    healed_run(tiny_config, tmp_path / "run")
    path = run_report(tmp_path / "run")
    assert path == tmp_path / "run" / "report.html"
    text = path.read_text()
    _self_contained(text)
    for section in ("Run", "Final evaluation", "Diagnosis", "Healing", "Curves", "Events", "Samples over time"):
        assert f"<h2>{section}</h2>" in text, section
    assert "lr_g 0.0001 -&gt; 5e-05" in text  # the heal's action
    assert "collapse_confirmed" in text and "abandoned before heal 1" in text
    assert "strategies before healing" in text
    assert text.count("<img") >= 1 + 3 + 1  # curves, samples (20, 40, 60), final samples


def test_bench_report(tmp_path):
    rows = [dict(strategies=s, data=d, seed=i, steps=100, modes=m + i % 2, modes_strict=m, hq_pct=90.0 + i,
                 rev_kl=0.1, seconds=3.0, error="")
            for s, m in (("none", 5), ("r1,ema", 8)) for d in ("ring8", "grid25") for i in range(3)]
    rows.append(dict(strategies="pacgan", data="ring8", seed=0, error="RuntimeError: boom"))
    cols = ["strategies", "data", "seed", "steps", "modes", "modes_strict", "hq_pct", "rev_kl", "seconds", "error"]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})
    text = bench_report(tmp_path).read_text()
    _self_contained(text)
    assert "5.33 ± 0.47" in text  # modes of 'none' over seeds (5, 6, 5)
    assert "<h3>none</h3>" in text and "<h3>r1,ema</h3>" in text and text.count("<img") == 2
    assert "Failed runs" in text and "RuntimeError: boom" in text


def test_report_cli(tiny_config, tmp_path, capsys):
    healed_run(tiny_config, tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").is_file() and "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a ModeGuard run" in capsys.readouterr().err


def test_run_report_of_a_run_with_garbage_logs(tmp_path):
    run = write_run(tmp_path / "run", metrics=[*GARBAGE_LINES, {"step": 10, "loss_d": 1.0, "loss_g": 0.5}],
                    monitor=[*GARBAGE_LINES, *monitor_rows([10, 20], [8, 1])], evals=GARBAGE_LINES,
                    events=[*GARBAGE_LINES, collapse_event(20, 10)], heals=b"\xff", final=b"[]")
    text = run_report(run.path).read_text()
    _self_contained(text)
    assert "<h2>Curves</h2>" in text and "<h2>Events</h2>" in text and "<h2>Final evaluation</h2>" not in text
    assert "The run collapsed from step 10 and did not recover." in text


def test_run_report_of_an_empty_run(tmp_path):
    run = write_run(tmp_path / "run")
    text = run_report(run.path).read_text()
    assert "<h2>Run</h2>" in text and "<h2>Diagnosis</h2>" in text
    for absent in ("Curves", "Events", "Healing", "Samples over time"):
        assert f"<h2>{absent}</h2>" not in text
    assert "<img" not in text


def test_broken_bench_results_are_one_line_through_the_cli(tmp_path, capsys):
    (tmp_path / "results.csv").write_bytes(b"\xff\xfe\x00garbage\n")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a readable results table" in err
    (tmp_path / "results.csv").write_text("strategies,seed\nnone,0\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "no 'data' column" in capsys.readouterr().err
