"""The ``modeguard`` command: parses arguments into library calls (:mod:`modeguard.runs` and
friends) and turns every error into one line on stderr and a documented exit code."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

import torch

from .bench.suites import run_suite
from .demo import run_demo
from .distributed import is_main_process
from .errors import (EXIT_ENVIRONMENT, EXIT_INTERRUPTED, ConfigError, ModeGuardError, describe_os_error,
                     write_failure)
from .monitor.doctor import diagnose
from .monitor.heal import heal_loop
from .report.html import write_report
from .runs import (default_out, eval_run, new_run, resumed_run, sample_run, save_array, save_sample_grid,
                   train_config)
from .strategies import registry
from .train import Interrupted
from .train.ensemble import parse_seeds, train_seeds
from .tune import run_search_file

EXIT_CODES = """\
exit status:
  0    done
  1    an internal error (a bug: please report it; MODEGUARD_DEBUG=1 shows the traceback)
  2    bad input: a config value, strategy, data file, checkpoint or path given is wrong,
       or the run folder is being written by another process
  3    training diverged (NaN/inf); the last good checkpoint is kept
  4    the collapse monitor stopped the run (--on-collapse stop)
  5    the machine refused: disk full, file-size limit, read-only or permission-denied
       folder, out of memory
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP); a checkpoint is saved where a run was under way
"""

#: train flags that map one-to-one onto TrainConfig fields: (type, help with default and unit)
TRAIN_FLAGS = {
    "data": (str, "data set: ring8, grid25, another registered name (NAME or NAME:ARG), or a .npy / .npz / "
                  ".csv file of points (default: ring8)"),
    "model": (str, "network pair: mlp, seed-mlp, dcgan, resnet, or your own FILE.py:NAME / package.module:NAME "
                   "(default: mlp for points, dcgan for images)"),
    "loss": (str, "adversarial loss: ns, minimax, wgan, hinge or lsgan (default: ns, non-saturating)"),
    "steps": (int, "training steps, each one G update (default: point data 40000, images 20000; ring8: 12000; "
                   "grid25: 24000; stacked-digits: 100000)"),
    "batch_size": (int, "samples per batch, real and fake each (default: 256 for points, 64 for ring8 and images)"),
    "lr_g": (float, "G's Adam learning rate (default: 1e-3 for points, 3e-3 for ring8 and grid25, 2e-4 for images, "
                    "5e-4 for stacked-digits)"),
    "lr_d": (float, "D's Adam learning rate (default: 1e-3 for points, 3e-3 for ring8 and grid25, 2e-4 for images, "
                    "5e-4 for stacked-digits)"),
    "beta1": (float, "Adam beta1, in [0, 1) (default: 0.5)"),
    "beta2": (float, "Adam beta2, in [0, 1) (default: 0.999)"),
    "n_critic": (int, "D steps per G step (default: 1)"),
    "seed": (int, "random seed, 0 to 2^32-1 (default: 0)"),
    "data_limit": (int, "train on N training images (or points) drawn with the seed; held-out data stays whole "
                        "(default: all)"),
    "device": (str, "auto, cpu, cuda or cuda:N (default: auto, CUDA where PyTorch sees it)"),
    "threads": (int, "PyTorch CPU threads, at most 4 per CPU (default: 1)"),
    "loader_workers": (int, "image sets: worker processes that decode an images:DIR folder and feed real batches "
                            "(pinned on CUDA) in a seeded order of their own; fixed for the run (default: 0, "
                            "the training process)"),
    "log_every": (int, "steps between rows of metrics.jsonl (default: 100)"),
    "sample_every": (int, "steps between sample snapshots (default: steps / 5)"),
    "ckpt_every": (int, "steps between checkpoints (default: steps / 10)"),
    "keep_checkpoints": (int, "newest checkpoints kept on disk (default: 3)"),
    "eval_samples": (int, "samples drawn per evaluation, at least 10 (default: 2500)"),
    "monitor_every": (int, "steps between collapse-monitor readings, 0 = off (default: 0; with --on-collapse "
                           "stop or heal: chosen for the data)"),
    "on_collapse": (str, "on a confirmed collapse: warn, stop (exit 4) or heal (default: warn)"),
    "max_heals": (int, "most heals in one run (default: 4)"),
    "heal_ladder": (str, "comma-separated remedies a heal tries in turn (default: the built-in ladder)"),
}
#: train switches that map onto TrainConfig fields (set only when given)
TRAIN_SWITCHES = ("strategies", "amp", "compile", "tensorboard", "progress")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's table as written."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modeguard", description="Train GANs that do not collapse.",
                                epilog=EXIT_CODES, formatter_class=_HelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_sample_eval(sub)
    _add_inspection(sub)
    _add_bench(sub)
    _add_tune(sub)
    return p


def _command(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, epilog=EXIT_CODES, formatter_class=_HelpFormatter)


def _add_train(sub) -> None:
    t = _command(sub, "train", "train a GAN (default: ModeGuard's recommended recipe for the data)")
    for name, (typ, text) in TRAIN_FLAGS.items():
        t.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, help=text)
    t.add_argument("--strategy", dest="strategies", default=None,
                   help="comma-separated strategies, e.g. 'r1:gamma=1,ema'; 'none' = plain GAN "
                        "(default: 'default', the recommended recipe for the data set or its kind)")
    t.add_argument("--lr", type=float, default=None, help="set both --lr-g and --lr-d (default: unset)")
    t.add_argument("--amp", action="store_true", default=None, help="bf16 autocast on CUDA (default: off)")
    t.add_argument("--compile", action="store_true", default=None,
                   help="compile G and D with torch.compile; pays on a GPU, not on this CPU's small models, and "
                        "cannot run R1, GP or unrolled (no double backward) (default: off)")
    t.add_argument("--tensorboard", action="store_true", default=None,
                   help="also log to RUN_DIR/tensorboard (needs the tensorboard extra; default: off)")
    t.add_argument("--config", help="YAML file of config values; flags override it (default: none)")
    t.add_argument("--out", help="run directory (default: runs/DATA-seedS-TIME)")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR; only --steps, logging, monitor cadence, device and "
                        "threads may change (default: start a new run)")
    t.add_argument("--overwrite", action="store_true", help="replace what --out holds (default: refuse)")
    t.add_argument("--seeds", metavar="LIST", help="train these seeds (e.g. 0-9 or 0,3,5-7) into OUT/seed-K, "
                   "stacked in one process where the strategies allow (default: one run of --seed)")
    t.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: a bar on the terminal)")


def _add_sample_eval(sub) -> None:
    s = _command(sub, "sample", "draw samples from a trained run")
    s.add_argument("run_dir", help="the run directory")
    s.add_argument("-n", type=int, default=2500, help="number of samples (default: 2500)")
    s.add_argument("-o", "--output", default="samples.npy",
                   help=".npy file written; image runs also get a .png grid beside it (default: samples.npy)")
    s.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default: 0)")
    s.add_argument("--checkpoint", help="checkpoint file to sample (default: the run's newest)")

    e = _command(sub, "eval", "evaluate a run's samples (modes, HQ %%, rev-KL, PRDC)")
    e.add_argument("run_dir", help="the run directory")
    e.add_argument("-n", type=int, default=None, help="samples to evaluate, at least 10 (default: the run's "
                                                      "eval_samples)")
    e.add_argument("--json", action="store_true", help="print the result as JSON (default: one line of text)")
    e.add_argument("--checkpoint", help="checkpoint file to evaluate (default: the run's newest)")


def _add_inspection(sub) -> None:
    d = _command(sub, "demo", "plain GAN vs ModeGuard's default recipe on ring8, side by side")
    d.add_argument("--out", default="runs/demo", help="folder of the two runs and the picture (default: runs/demo)")
    d.add_argument("--steps", type=int, default=None, help="training steps per run (default: 10000, half a full ring8 run)")
    d.add_argument("--seed", type=int, default=0, help="random seed of both runs (default: 0)")

    _command(sub, "strategies", "list the strategies, their options, and the article's remedies")

    dr = _command(sub, "doctor", "say whether and when a run collapsed, the evidence, and what to try")
    dr.add_argument("run_dir", help="the run directory")
    dr.add_argument("--json", action="store_true", help="print the diagnosis as JSON (default: text)")
    dr.add_argument("--no-sample", dest="sample", action="store_false",
                    help="do not sample the checkpoints to find the modes lost (default: sample them)")

    rp = _command(sub, "report", "write a self-contained HTML report of a run or a bench folder")
    rp.add_argument("dir", help="a run directory or a 'modeguard bench' output folder")
    rp.add_argument("-o", "--output", help="HTML file written (default: DIR/report.html)")


def _add_bench(sub) -> None:
    b = _command(sub, "bench", "benchmark strategy sets x data sets x seeds against the plain GAN")
    b.add_argument("--suite", default="mixtures", help="benchmark suite (default: mixtures)")
    b.add_argument("--strategies", help="strategy sets separated by '|', e.g. 'none|r1,ema|pacgan' "
                                        "(default: the recipe and every strategy alone)")
    b.add_argument("--data", help="comma-separated data sets (default: the suite's)")
    b.add_argument("--seeds", type=int, default=5, help="seeds per strategy set and data set (default: 5)")
    b.add_argument("--steps", type=int, default=None, help="training steps per run (default: per data set)")
    b.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    b.add_argument("--out", default="bench-out", help="output folder (default: bench-out)")
    b.add_argument("--resume", action="store_true",
                   help="keep the runs already in OUT/results.csv (default: run everything)")
    b.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="where runs go: local processes, or a Ray task each (extra modeguard[ray]) (default: local)")
    b.add_argument("--address", default=None,
                   help="Ray cluster for --backend ray: 'auto' or HOST:PORT "
                        "(default: none, start a local one of --workers CPUs, 2 if unset)")
    b.add_argument("--no-stack-seeds", dest="stack_seeds", action="store_false",
                   help="train every seed in its own process (default: the seeds of a stackable "
                        "configuration train together in one process, local backend)")


def _add_tune(sub) -> None:
    tu = _command(sub, "tune", "search strategy options and learning rates on Ray Tune; a confirmed collapse "
                               "ends a trial (search file format: docs/cluster.md)")
    tu.add_argument("search", help="YAML search file")
    tu.add_argument("--out", default="tune-out", help="results folder (default: tune-out)")
    tu.add_argument("--address", default=None, help="Ray cluster: 'auto' or HOST:PORT (default: none, start a local one)")
    tu.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster (default: 2)")
    tu.add_argument("--no-collapse-stop", dest="collapse_stop", action="store_false", default=None,
                    help="let collapsed trials run on (default: the search file's collapse_stop, true)")
    tu.add_argument("--compare", action="store_true",
                    help="run the search with and without collapse-aware stopping, and compare (default: off)")


# ---------------------------------------------------------------- commands
def cmd_train(args) -> int:
    """``modeguard train``: a new run (``--out``) or a resumed one (``--resume``)."""
    overrides = {k: getattr(args, k) for k in [*TRAIN_FLAGS, *TRAIN_SWITCHES] if getattr(args, k, None) is not None}
    if args.lr is not None:
        overrides.setdefault("lr_g", args.lr)
        overrides.setdefault("lr_d", args.lr)
    if args.seeds:
        return _train_seeds(args, overrides)
    if args.resume:
        if args.config or args.out or args.overwrite:
            raise ConfigError("--resume takes its settings from the run; drop --config/--out/--overwrite")
        run = resumed_run(args.resume, **overrides)
    else:
        run = new_run(train_config(args.config, overrides), args.out, overwrite=args.overwrite)
    with run as trainer:
        step = trainer.ctx.step
        print(f"resuming {args.resume} at step {step} of {trainer.ctx.total_steps}" if args.resume
              else f"run directory: {trainer.run.path}")
        for note in getattr(trainer, "notes", ()):
            print(f"note: {note}")
        trainer, result = heal_loop(trainer) if trainer.config.on_collapse == "heal" else (trainer, trainer.fit())
    for h in result.get("heals", []):
        print(f"heal {h['heal']}: {h['cause'].replace('_', ' ')} at step {h['cause_step']}, rolled back to "
              f"step {h['rolled_back_to']}, {h['change']}")
    if "stopped" in result:  # the monitor confirmed a collapse and on_collapse is 'stop'
        print(f"modeguard: {result['stopped']}", file=sys.stderr)
        return 4
    _print_result(result)
    print(f"samples: {trainer.run.final_samples}   metrics: {trainer.run.metrics}")
    return 0


def _train_seeds(args, overrides: dict) -> int:
    """``modeguard train --seeds 0-9``: every seed in OUT/seed-K (see :func:`train_seeds`)."""
    if args.resume or args.overwrite:
        raise ConfigError("--seeds starts new runs; resume or overwrite one seed's folder by itself")
    config = train_config(args.config, overrides)
    out = args.out or str(default_out(config)).replace(f"-seed{config.seed}-", "-seeds-")
    notes: list[str] = []
    seeds = parse_seeds(args.seeds)
    print(f"run directories: {out}/seed-{{{','.join(map(str, seeds))}}}")
    results = train_seeds(config, seeds, out, notes=notes)
    for note in notes:
        print(f"note: {note}")
    for seed, result in zip(seeds, results):
        print(f"seed {seed}: ", end="")
        _print_result(result)
    return 4 if any("stopped" in r for r in results) else 0


def _print_result(result: dict) -> None:
    keys = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage", "fd_clf",
            "classifier_acc"]
    parts = [f"{k}={result[k]:.4g}" if isinstance(result[k], float) else f"{k}={result[k]}"
             for k in keys if k in result]
    print("eval: " + "  ".join(parts))


def cmd_sample(args) -> int:
    """``modeguard sample``: samples of a run to a .npy (and a .png grid for images)."""
    notes: list[str] = []
    arr = sample_run(args.run_dir, args.n, args.seed, args.checkpoint, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    path = save_array(args.output, arr)
    print(f"wrote {path} {arr.shape}")
    grid = save_sample_grid(path, arr)
    if grid is not None:
        print(f"wrote {grid} (grid of the first {min(len(arr), 100)})")
    return 0


def cmd_eval(args) -> int:
    """``modeguard eval``: the evaluation of a run's checkpoint."""
    notes: list[str] = []
    result = eval_run(args.run_dir, args.n, args.checkpoint, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        _print_result(result)
    return 0


def cmd_demo(args) -> int:
    """``modeguard demo``: the plain GAN against the recipe on ring8."""
    out = run_demo(args.out, steps=args.steps, seed=args.seed)
    for r in out["results"]:
        if "error" in r:
            print(f"{r['arm']}: failed: {r['error']}")
        else:
            print(f"{r['arm']:<30} modes {r['modes']}/8  strict {r['modes_strict']}/8  HQ {r['hq_pct']:5.1f}%  "
                  f"rev-KL {r['rev_kl']:.3f}  ({r['seconds']:.0f} s)")
    print(f"side-by-side picture: {out['figure']}")
    print(f"runs (config, metrics, checkpoints, samples): {out['runs'][0]}  {out['runs'][1]}")
    return 0


def cmd_strategies(args) -> int:
    """``modeguard strategies``: every strategy with its options."""
    for name, cls in sorted(registry().items()):
        remedies = ",".join(map(str, cls.remedies)) or "-"
        print(f"{name:<18} {cls.summary}  [article remedy {remedies}]")
        for opt, o in cls.options.items():
            extra = f" one of {'/'.join(map(str, o.choices))}" if o.choices else ""
            default = "+".join(o.default) if isinstance(o.default, tuple) else o.default
            print(f"    {opt}={default!s:<10} {o.help}{extra}")
    return 0


def cmd_bench(args) -> int:
    """``modeguard bench``: a benchmark suite, its table and CSV."""
    sets = [x.strip() for x in args.strategies.split("|")] if args.strategies else None
    data = [x.strip() for x in args.data.split(",")] if args.data else None
    run_suite(args.suite, args.out, sets, data, args.seeds, args.steps, args.workers,
              resume=args.resume, backend=args.backend, address=args.address, stack=args.stack_seeds)
    print((Path(args.out) / "results.md").read_text())  # failed runs are listed under the table
    print(f"results: {Path(args.out) / 'results.csv'}  {Path(args.out) / 'results.md'}")
    return 0


def cmd_doctor(args) -> int:
    """``modeguard doctor``: the diagnosis of a run."""
    diagnosis = diagnose(args.run_dir, sample_checkpoints=args.sample)
    print(json.dumps(diagnosis.to_dict(), indent=2) if args.json else diagnosis.text())
    return 0


def cmd_report(args) -> int:
    """``modeguard report``: the HTML report of a run or a bench folder."""
    print(f"wrote {write_report(args.dir, args.output)}")
    return 0


def cmd_tune(args) -> int:
    """``modeguard tune``: a Ray Tune search (or ``--compare``: with and without collapse stopping)."""
    print(run_search_file(args.search, args.out, args.address, args.compare, args.collapse_stop, args.workers))
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "demo": cmd_demo,
            "strategies": cmd_strategies, "bench": cmd_bench, "doctor": cmd_doctor, "report": cmd_report,
            "tune": cmd_tune}

#: what running out of memory raises (torch's own class where this torch has one)
OUT_OF_MEMORY = (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))


def main(argv=None) -> int:
    """Run the command in ``argv`` (default: ``sys.argv[1:]``) and return its exit status
    (the table in ``modeguard --help``). Every error is one line on stderr."""
    try:
        args = _parser().parse_args(argv)
        with _stdout_of_this_rank():
            return COMMANDS[args.command](args)
    except Interrupted as e:
        return _fail(f"{e}; resume with --resume", EXIT_INTERRUPTED, prefix="modeguard: ")
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED, prefix="modeguard: ")
    except ModeGuardError as e:
        return _fail(str(e), e.exit_code)
    except OUT_OF_MEMORY as e:
        why = str(e).strip().splitlines()[0][:160] if str(e).strip() else "no detail"
        return _fail(f"out of memory ({why}); use a smaller --batch-size or model", EXIT_ENVIRONMENT)
    except OSError as e:  # a file operation no library call turned into a ModeGuardError
        error = write_failure("file", e.filename, e) if e.filename else None
        text = str(error) if error else describe_os_error(e)
        return _fail(text.replace("cannot write file", "cannot use"), error.exit_code if error else EXIT_ENVIRONMENT)
    except Exception as e:
        if os.environ.get("MODEGUARD_DEBUG"):
            raise
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        return _fail(f"internal error: {type(e).__name__}: {first} (please report it; MODEGUARD_DEBUG=1 "
                     f"shows the traceback)", 1)


def _stdout_of_this_rank():
    """Under ``torchrun`` only rank 0 prints what a command reports (its errors still go to
    stderr from every rank); elsewhere stdout is left as it is."""
    if is_main_process():
        return contextlib.nullcontext()
    return contextlib.redirect_stdout(io.StringIO())


def _fail(text: str, code: int, prefix: str = "modeguard: error: ") -> int:
    print(prefix + " ".join(text.split()), file=sys.stderr)
    return code


__all__ = ["EXIT_CODES", "TRAIN_FLAGS", "main"]


if __name__ == "__main__":
    sys.exit(main())
