"""The ``modeguard`` command end to end: train -> sample -> eval, custom data, the demo, and
a one-line error with exit code 2 for every kind of bad input."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modeguard.cli import main
from reliability.helpers import cli  # the CLI in this process: (exit code, stdout, stderr)

TINY_YAML = """\
model_options: {g_hidden: [16, 16], d_hidden: [16, 16], z_dim: 4}
strategies: none
eval_samples: 500
log_every: 10
sample_every: 1000
progress: false
"""
EVAL_KEYS = {"modes", "modes_strict", "hq_pct", "rev_kl", "precision", "recall", "density", "coverage"}


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY_YAML)
    return path


def train_args(tiny_yaml, data, out, *extra):
    return ["train", "--data", data, "--steps", 20, "--batch-size", 32, "--config", tiny_yaml, "--out", out, *extra]


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("modeguard: error: ")
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


def files_of(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- an independent evaluator
def independent_mixture_eval(samples: np.ndarray, centers: np.ndarray, std: float, weights: np.ndarray) -> dict:
    """DESIGN.md's protocol, from scratch: a sample is high quality (HQ) within 3 std of its
    nearest centre; a mode is covered with >= 1 HQ sample (strict: >= 20); rev-KL is
    KL(histogram of HQ samples over modes || true weights)."""
    modes_of, hq = [], []
    for x in samples:
        dists = [math.dist(x, c) for c in centers]
        j = min(range(len(centers)), key=dists.__getitem__)
        modes_of.append(j)
        hq.append(dists[j] <= 3 * std)
    counts = [sum(1 for j, h in zip(modes_of, hq) if h and j == m) for m in range(len(centers))]
    total = sum(counts)
    w = np.asarray(weights, float) / np.sum(weights)
    rev_kl = math.inf if total == 0 else sum(c / total * math.log(c / total / w[m]) for m, c in enumerate(counts) if c)
    return {"modes": sum(c >= 1 for c in counts), "modes_strict": sum(c >= 20 for c in counts),
            "hq_pct": 100 * sum(hq) / len(samples), "rev_kl": rev_kl}


def ring8_protocol():
    centers = np.array([[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)])
    return centers, 0.01, np.full(8, 1 / 8)


def assert_evaluations_agree(ours: dict, theirs: dict) -> None:
    assert ours["modes"] == theirs["modes"]
    assert ours["modes_strict"] == theirs["modes_strict"]
    assert ours["hq_pct"] == pytest.approx(theirs["hq_pct"], abs=1e-9)
    if math.isinf(theirs["rev_kl"]):
        assert math.isinf(ours["rev_kl"])
    else:
        assert ours["rev_kl"] == pytest.approx(theirs["rev_kl"], rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- train -> sample -> eval
@pytest.fixture(scope="module")
def ring8_run(tmp_path_factory, tiny_yaml) -> Path:
    out = tmp_path_factory.mktemp("runs") / "ring8"
    assert main([str(a) for a in train_args(tiny_yaml, "ring8", out)]) == 0
    return out


def test_train_makes_a_run_directory(ring8_run):
    for name in ("config.yaml", "metrics.jsonl", "eval.json", "final_samples.png"):
        assert (ring8_run / name).is_file(), name
    assert sorted(p.name for p in (ring8_run / "checkpoints").iterdir())[-1] == "step-00000020.pt"
    rows = [json.loads(line) for line in (ring8_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]
    assert "model_options" in (ring8_run / "config.yaml").read_text()


def test_sample_writes_n_by_2_and_is_reproducible(ring8_run, tmp_path, capsys):
    paths = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        paths[name] = tmp_path / f"{name}.npy"
        code, out, err = cli(capsys, "sample", ring8_run, "-n", 300, "-o", paths[name], "--seed", seed)
        assert code == 0 and err == ""
        assert "(300, 2)" in out
    a, b, c = (np.load(paths[k]) for k in "abc")
    assert a.shape == (300, 2) and a.dtype == np.float64 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_eval_json_has_the_protocol_keys_and_an_independent_evaluator_agrees(ring8_run, tmp_path, capsys):
    code, out, err = cli(capsys, "eval", ring8_run, "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert EVAL_KEYS <= set(result)
    assert result["step"] == 20
    # eval draws the run's eval_samples (500) with seed 0: the same draw `sample --seed 0` gives
    code, _, _ = cli(capsys, "sample", ring8_run, "-n", 500, "-o", tmp_path / "s.npy", "--seed", 0)
    assert code == 0
    samples = np.load(tmp_path / "s.npy")
    assert_evaluations_agree(result, independent_mixture_eval(samples, *ring8_protocol()))


def test_independent_evaluator_agrees_on_a_collapsed_generator(ring8_run, tmp_path, capsys):
    """G's last layer rewritten so every sample lands near ring8's mode 3, some within 3 std and
    some not: a non-trivial HQ %, one mode, rev-KL = log 8, checked end to end."""
    import torch

    from modeguard.train import load_checkpoint, save_checkpoint

    run = tmp_path / "run"
    shutil.copytree(ring8_run, run)
    ckpt = sorted((run / "checkpoints").iterdir())[-1]
    state = load_checkpoint(ckpt)
    last = max((k for k in state["G"] if k.endswith(".weight")), key=lambda k: int(k.split(".")[-2]))
    centre = torch.tensor(ring8_protocol()[0][3], dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    state["G"][last] = 0.03 * torch.randn(state["G"][last].shape, generator=g)
    state["G"][last.replace(".weight", ".bias")] = centre
    save_checkpoint(ckpt, state)

    code, out, _ = cli(capsys, "eval", run, "--json")
    assert code == 0
    result = json.loads(out)
    code, _, _ = cli(capsys, "sample", run, "-n", 500, "-o", tmp_path / "s.npy")
    assert code == 0
    theirs = independent_mixture_eval(np.load(tmp_path / "s.npy"), *ring8_protocol())
    assert_evaluations_agree(result, theirs)
    assert result["modes"] == 1 and result["rev_kl"] == pytest.approx(math.log(8))
    assert 10 < result["hq_pct"] < 90


def test_eval_text_output(ring8_run, capsys):
    code, out, _ = cli(capsys, "eval", ring8_run)
    assert code == 0
    assert out.startswith("eval: ") and "modes=" in out and "rev_kl=" in out


def test_resume_and_overwrite(ring8_run, tiny_yaml, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(ring8_run, run)
    before = files_of(run)
    code, _, err = cli(capsys, *train_args(tiny_yaml, "ring8", run))
    assert_one_line_error(code, err, str(run), "--resume", "--overwrite")
    assert files_of(run) == before

    code, out, err = cli(capsys, "train", "--resume", run, "--steps", 30)
    assert code == 0, err
    assert "step 20 of 30" in out
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30]

    code, _, err = cli(capsys, *train_args(tiny_yaml, "ring8", run), "--overwrite")
    assert code == 0, err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]


def test_python_dash_m_entry_points(ring8_run, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = tmp_path / "m.npy"
    # both start at once: most of each one's time is importing torch
    good = subprocess.Popen([sys.executable, "-m", "modeguard", "sample", str(ring8_run), "-n", "50", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    bad = subprocess.Popen([sys.executable, "-m", "modeguard.cli", "train", "--data", str(tmp_path / "nope.npy"),
                            "--out", str(tmp_path / "r")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env)
    _, good_err = good.communicate(timeout=120)
    _, bad_err = bad.communicate(timeout=120)
    assert good.returncode == 0, good_err
    assert np.load(out).shape == (50, 2)
    assert_one_line_error(bad.returncode, bad_err, "nope.npy")
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- custom data
def _mixture_file(tmp_path, dim: int, fmt: str, rng):
    centers = rng.normal(scale=3.0, size=(4, dim)) + 100.0  # far from 0: data space is kept
    weights = np.array([0.4, 0.3, 0.2, 0.1])
    std = 0.8
    idx = rng.choice(4, size=400, p=weights)
    points = centers[idx] + std * rng.standard_normal((400, dim))
    path = tmp_path / f"points{dim}.{fmt}"
    if fmt == "npy":
        np.save(path, points)
    elif fmt == "csv":
        np.savetxt(path, points, delimiter=",")
    else:
        np.savez(path, points=points, centers=centers, std=std, weights=weights)
    return path, points, centers, std, weights


@pytest.mark.parametrize("dim", [2, 5])
@pytest.mark.parametrize("fmt", ["npy", "csv", "npz"])
def test_custom_point_data(tmp_path, tiny_yaml, capsys, dim, fmt):
    rng = np.random.default_rng(dim)
    path, points, centers, std, weights = _mixture_file(tmp_path, dim, fmt, rng)
    run = tmp_path / "run"
    code, _, err = cli(capsys, *train_args(tiny_yaml, path, run))
    assert code == 0, err

    code, _, _ = cli(capsys, "sample", run, "-n", 500, "-o", tmp_path / "s.npy")
    assert code == 0
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (500, dim)
    # samples come back in the data's units, not the standardised training space
    assert np.abs(samples.mean(0) - points.mean(0)).max() < 3 * points.std(0).max()

    code, out, _ = cli(capsys, "eval", run, "--json")
    assert code == 0
    result = json.loads(out)
    assert {"precision", "recall", "density", "coverage"} <= set(result)
    if fmt == "npz":  # the file carries its mixture, so mode metrics exist and follow the protocol
        assert EVAL_KEYS <= set(result)
        assert_evaluations_agree(result, independent_mixture_eval(samples, centers, std, weights))
    else:
        assert "modes" not in result


# ---------------------------------------------------------------- bad input: exit 2, one line
BAD_CONFIGS = {
    "bad-yaml": ("steps: [1,\n", "not valid YAML"),
    "unknown-key": ("stepz: 5\n", "unknown config key 'stepz'"),
    "not-a-mapping": ("- 1\n- 2\n", "mapping"),
    "steps-not-a-number": ("steps: ten\n", "steps"),
    "steps-fraction": ("steps: 2.5\n", "steps"),
    "lr-not-a-number": ("lr_g: fast\n", "lr_g"),
    "bad-model-option": ("model_options: {z_dim: many}\n", "z_dim"),
    "bad-layer-widths": ("model_options: {g_hidden: [-3]}\n", "g_hidden"),
    "bad-activation": ("model_options: {activation: swish9}\n", "activation"),
    "unknown-model-option": ("model_options: {depth: 3}\n", "depth"),
    "strategies-a-number": ("strategies: 5\n", "strategies"),
    "loss-a-list": ("loss: [ns]\n", "loss"),
    "progress-not-bool": ("progress: maybe\n", "progress"),
    "too-few-eval-samples": ("eval_samples: 3\n", "eval_samples"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_file(tmp_path, capsys, case):
    text, fragment = BAD_CONFIGS[case]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    code, _, err = cli(capsys, "train", "--config", cfg, "--out", tmp_path / "run")
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "run").exists()


def test_missing_config_file(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--config", tmp_path / "none.yaml", "--out", tmp_path / "run")
    assert_one_line_error(code, err, "none.yaml")


def test_yaml_exponent_learning_rate_is_a_number(tmp_path, capsys):
    from modeguard.config import TrainConfig

    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr_g: 1e-4\nlr_d: 2E-4\n")  # YAML 1.1 reads these as strings
    c = TrainConfig.load(cfg)
    assert c.lr_g == 1e-4 and c.lr_d == 2e-4


def _write_bad_data(tmp_path: Path, case: str) -> Path:
    p = tmp_path / {"garbage-npy": "d.npy", "truncated-npy": "d.npy", "nan": "d.npy", "inf-csv": "d.csv",
                    "1-d": "d.npy", "3-d": "d.npy", "text-csv": "d.csv", "ragged-csv": "d.csv", "empty-csv": "d.csv",
                    "npz-without-points": "d.npz", "garbage-npz": "d.npz", "object-npy": "d.npy",
                    "one-point": "d.npy", "npz-bad-centers": "d.npz"}[case]
    if case == "garbage-npy":
        p.write_bytes(b"this is not numpy\n" * 10)
    elif case == "truncated-npy":
        np.save(p, np.ones((100, 2)))
        p.write_bytes(p.read_bytes()[:300])
    elif case == "nan":
        np.save(p, np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]))
    elif case == "inf-csv":
        p.write_text("1,2\n3,inf\n5,6\n")
    elif case == "1-d":
        np.save(p, np.arange(10.0))
    elif case == "3-d":
        np.save(p, np.zeros((4, 2, 2)))
    elif case == "text-csv":
        p.write_text("x,y\n1,2\n3,4\n")
    elif case == "ragged-csv":
        p.write_text("1,2\n3,4,5\n")
    elif case == "empty-csv":
        p.write_text("")
    elif case == "npz-without-points":
        np.savez(p, x=np.zeros((3, 2)))
    elif case == "garbage-npz":
        p.write_bytes(b"garbage")
    elif case == "object-npy":
        np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif case == "one-point":
        np.save(p, np.zeros((1, 2)))
    elif case == "npz-bad-centers":
        np.savez(p, points=np.zeros((10, 2)), centers=np.zeros((3, 5)), std=0.1)
    return p


BAD_DATA = ["garbage-npy", "truncated-npy", "nan", "inf-csv", "1-d", "3-d", "text-csv", "ragged-csv", "empty-csv",
            "npz-without-points", "garbage-npz", "object-npy", "one-point", "npz-bad-centers"]


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_file(tmp_path, tiny_yaml, capsys, case):
    path = _write_bad_data(tmp_path, case)
    code, _, err = cli(capsys, *train_args(tiny_yaml, path, tmp_path / "run"))
    assert_one_line_error(code, err, str(path))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,fragment", [
    (["--data", "ring9"], "unknown data 'ring9'"),
    (["--data", "missing/points.npy"], "not found"),
    (["--lr", "-1"], "lr"),
    (["--lr", "0"], "lr"),
    (["--lr-d", "0"], "lr_d"),
    (["--lr-g", "nan"], "lr_g"),
    (["--steps", "0"], "steps"),
    (["--steps", "-5"], "steps"),
    (["--batch-size", "0"], "batch_size"),
    (["--loss", "wasserstein"], "unknown loss 'wasserstein'"),
    (["--model", "resnet"], "'resnet'"),
    (["--strategy", "magic"], "unknown strategy 'magic'"),
    (["--device", "tpu"], "device"),
    (["--seed", "-1"], "seed"),
])
def test_bad_train_flags(tmp_path, tiny_yaml, capsys, args, fragment):
    base = ["train", "--config", tiny_yaml, "--out", tmp_path / "run", "--steps", "5"]
    code, _, err = cli(capsys, *base, *args)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "run").exists()


def test_out_that_is_a_file_or_holds_other_files(tmp_path, tiny_yaml, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = cli(capsys, *train_args(tiny_yaml, "ring8", f))
    assert_one_line_error(code, err, "is a file")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, _, err = cli(capsys, *train_args(tiny_yaml, "ring8", other))
    assert_one_line_error(code, err, "other files")
    assert (other / "notes.txt").read_text() == "mine"


def test_resume_rejects_config_and_out(ring8_run, tiny_yaml, capsys):
    code, _, err = cli(capsys, "train", "--resume", ring8_run, "--config", tiny_yaml)
    assert_one_line_error(code, err, "--resume")


@pytest.fixture
def damaged_run(ring8_run, tmp_path) -> Path:
    """A copy of the run whose newest checkpoint was cut short."""
    run = tmp_path / "damaged"
    shutil.copytree(ring8_run, run)
    latest = sorted((run / "checkpoints").iterdir())[-1]
    latest.write_bytes(latest.read_bytes()[:1000])
    return run


@pytest.mark.parametrize("command", [
    ["sample", "{run}", "-n", "10", "-o", "{tmp}/s.npy"],
    ["eval", "{run}", "--json"],
    ["train", "--resume", "{run}", "--steps", "30"],
])
def test_truncated_newest_checkpoint_falls_back_to_the_previous(damaged_run, tmp_path, capsys, command):
    args = [a.format(run=damaged_run, tmp=tmp_path) for a in command]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    if command[0] == "train":
        assert "skipped step-00000020.pt" in out and "truncated" in out
        assert "at step 18 of 30" in out
    else:  # sample and eval say so too, on stderr (stdout stays the result)
        assert "skipped step-00000020.pt" in err and "truncated" in err


def test_every_checkpoint_truncated_is_one_line(damaged_run, tmp_path, capsys):
    for ckpt in (damaged_run / "checkpoints").iterdir():
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    before = files_of(damaged_run)
    code, _, err = cli(capsys, "sample", damaged_run, "-n", "10", "-o", tmp_path / "s.npy")
    assert_one_line_error(code, err, "step-00000020.pt", "truncated")
    assert files_of(damaged_run) == before  # nothing written, no checkpoint replaced
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"PK\x03\x04" + b"\0" * 50])
@pytest.mark.parametrize("command", ["sample", "eval"])
def test_unreadable_checkpoint_option(ring8_run, tmp_path, capsys, content, command):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    before = files_of(ring8_run)
    extra = ["-o", tmp_path / "s.npy"] if command == "sample" else []
    code, _, err = cli(capsys, command, ring8_run, "--checkpoint", bad, *extra)
    assert_one_line_error(code, err, "bad.pt")
    assert files_of(ring8_run) == before


@pytest.mark.parametrize("args,fragment", [
    (["sample", "{tmp}/nowhere"], "not found"),
    (["eval", "{tmp}"], "not a ModeGuard run"),
    (["train", "--resume", "{tmp}/nowhere"], "not found"),
    (["sample", "{run}", "-n", "0"], "-n"),
    (["sample", "{run}", "-o", "{tmp}/s.txt"], ".npy"),
    (["eval", "{run}", "-n", "5"], "-n"),
    (["sample", "{run}", "--checkpoint", "{tmp}/none.pt"], "none.pt"),
])
def test_bad_run_arguments(ring8_run, tmp_path, capsys, args, fragment):
    code, _, err = cli(capsys, *[a.format(run=ring8_run, tmp=tmp_path) for a in args])
    assert_one_line_error(code, err, fragment)


def test_divergence_exits_3_with_one_line(tmp_path, tiny_yaml, capsys):
    code, _, err = cli(capsys, *train_args(tiny_yaml, "ring8", tmp_path / "run"), "--lr", "1e38", "--loss", "wgan")
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and "diverged" in err and "Traceback" not in err


# ---------------------------------------------------------------- the demo
def test_demo_trains_both_arms_and_draws_them_side_by_side(tmp_path):
    from modeguard.demo import run_demo

    out = run_demo(tmp_path / "demo", steps=30, workers=1)
    assert Path(out["figure"]).is_file() and Path(out["figure"]).name == "demo.png"
    assert len(out["results"]) == 2
    for r in out["results"]:
        assert "error" not in r
        assert {"arm", "modes", "hq_pct", "rev_kl", "seconds"} <= set(r)
    arms = [r["arm"] for r in out["results"]]
    assert any("plain" in a for a in arms) and any("recipe" in a for a in arms)
    for run in out["runs"]:
        assert (Path(run) / "config.yaml").is_file() and (Path(run) / "checkpoints").is_dir()


# ---------------------------------------------------------------- help
COMMANDS = ["train", "sample", "eval", "demo", "strategies", "doctor", "report", "bench"]


def help_of(capsys, *args) -> str:
    with pytest.raises(SystemExit) as e:
        main([*args, "--help"])
    assert e.value.code == 0
    return capsys.readouterr().out


def option_entries(text: str) -> dict[str, str]:
    """``{flag spec: help text}`` of the options section of an argparse help page."""
    entries: dict[str, list[str]] = {}
    spec = None
    for line in text.split("exit status:")[0].splitlines():
        if re.match(r"^  -", line):
            parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)  # the flags, then help on the same line
            spec = parts[0]
            entries[spec] = parts[1:]
        elif spec and re.match(r"^\s{6,}\S", line):
            entries[spec].append(line.strip())
        else:
            spec = None
    return {k: " ".join(v).strip() for k, v in entries.items()}


def test_top_level_help_lists_the_commands_and_exit_codes(capsys):
    """Seen: 'modeguard --help' crashed on an unescaped '%' in a command's help."""
    out = help_of(capsys)
    for name in COMMANDS:
        assert name in out
    for code in ("0 ", "2 ", "3 ", "4 ", "5 ", "130 "):
        assert f"\n  {code}" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_of_every_command_has_help_with_its_default(command, capsys):
    out = help_of(capsys, command)
    assert "exit status:" in out
    entries = option_entries(out)
    assert "-h, --help" in entries
    for spec, text in entries.items():
        if spec != "-h, --help":
            assert "default" in text, (command, spec, text)


def test_help_of_the_installed_command():
    proc = subprocess.run([sys.executable, "-m", "modeguard", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "exit status:" in proc.stdout, proc.stderr
