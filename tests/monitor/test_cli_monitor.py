"""The monitor from the command line: --on-collapse warn|stop|heal, --tensorboard."""
import json

import pytest
import yaml

from modeguard.cli import main
from modeguard.monitor import features

from .helpers import scripted_space

TINY = dict(data="ring8", strategies="none", batch_size=32, log_every=5, ckpt_every=10, sample_every=1000,
            eval_samples=64, model_options={"g_hidden": [16, 16], "d_hidden": [16, 16], "z_dim": 4})


@pytest.fixture
def tiny_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return str(path)


def _train(tiny_yaml, out, *flags):
    return main(["train", "--config", tiny_yaml, "--out", str(out), "--no-progress", *flags])


def test_explicit_on_collapse_warn_turns_the_monitor_on(tiny_yaml, tmp_path):
    assert _train(tiny_yaml, tmp_path / "run", "--steps", "100", "--on-collapse", "warn") == 0
    rows = (tmp_path / "run" / "monitor.jsonl").read_text().splitlines()
    assert len(rows) == 50 and json.loads(rows[0])["step"] == 2  # steps // 50


def test_stop_exits_4_with_one_line(tiny_yaml, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(features.FEATURE_SPACES, "points", scripted_space(set(range(4, 100))))
    code = _train(tiny_yaml, tmp_path / "run", "--steps", "50", "--monitor-every", "5", "--on-collapse", "stop")
    assert code == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stopped at step" in err and "modeguard doctor" in err
    assert (tmp_path / "run" / "checkpoints").is_dir()


def test_heal_from_the_cli(tiny_yaml, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(features.FEATURE_SPACES, "points", scripted_space(set(range(7, 10))))
    code = _train(tiny_yaml, tmp_path / "run", "--steps", "80", "--monitor-every", "5", "--on-collapse", "heal",
                  "--heal-ladder", "instance-noise:anneal=1,lr_g*0.5")
    assert code == 0
    out = capsys.readouterr().out
    assert "heal 1: collapse confirmed at step" in out and "added instance-noise:anneal=1.0" in out
    saved = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert saved["heals"][0]["action"] == "instance-noise:anneal=1"
    # resume and sample read the amended config
    assert main(["sample", str(tmp_path / "run"), "-n", "10", "-o", str(tmp_path / "s.npy")]) == 0


def test_bad_heal_ladder_is_a_config_error(tiny_yaml, tmp_path, capsys):
    code = _train(tiny_yaml, tmp_path / "run", "--steps", "20", "--on-collapse", "heal", "--heal-ladder", "nope")
    assert code == 2
    assert "heal_ladder: unknown strategy 'nope'" in capsys.readouterr().err


def test_tensorboard_missing_is_a_config_error(tiny_yaml, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kw):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("no tensorboard")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    assert _train(tiny_yaml, tmp_path / "run", "--steps", "10", "--tensorboard") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'modeguard[tensorboard]'" in err


def test_tensorboard_logs_scalars_and_samples(tiny_yaml, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert _train(tiny_yaml, tmp_path / "run", "--steps", "20", "--sample-every", "10", "--monitor-every", "5",
                  "--tensorboard") == 0
    acc = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()
    assert {"train/loss_d", "monitor/coverage", "eval/hq_pct"} <= set(tags["scalars"])
    assert "samples" in tags["images"]
    assert [e.step for e in acc.Scalars("train/loss_d")] == [5, 10, 15, 20]
