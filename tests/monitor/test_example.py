"""examples/monitor_in_plain_loop.py: the monitor in a loop that does not use ModeGuard's trainer."""
import importlib.util
import json
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "monitor_in_plain_loop.py"


def test_plain_loop_example_flags_the_collapsed_gan(tmp_path):
    spec = importlib.util.spec_from_file_location("monitor_in_plain_loop", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    out = example.main(["--steps", "240", "--every", "20", "--warmup", "40", "--stall", "0",
                        "--events", str(tmp_path / "events.jsonl")])
    assert out["checks"] == 12
    kinds = [e.kind for e in out["events"]]
    assert kinds[:2] == ["collapse_suspected", "collapse_confirmed"]
    confirmed = out["events"][1]
    assert confirmed.step == 80 and confirmed.evidence[0].figure == "modes"
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert json.loads(lines[1])["kind"] == "collapse_confirmed"
