"""The ``modeguard`` command: parses arguments into library calls. No logic of its own."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ConfigError, DivergenceError, ModeGuardError

#: train flags that map one-to-one onto TrainConfig fields
TRAIN_FLAGS = {
    "data": str, "model": str, "loss": str, "steps": int, "batch_size": int, "lr_g": float, "lr_d": float,
    "beta1": float, "beta2": float, "n_critic": int, "seed": int, "device": str, "threads": int,
    "log_every": int, "sample_every": int, "ckpt_every": int, "keep_checkpoints": int, "eval_samples": int,
    "monitor_every": int, "on_collapse": str, "max_heals": int, "heal_ladder": str,
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="modeguard", description="Train GANs that do not collapse.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN (default: ModeGuard's recommended recipe)")
    for name, typ in TRAIN_FLAGS.items():
        t.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None)
    t.add_argument("--strategy", dest="strategies", default=None,
                   help="comma-separated strategies, e.g. 'r1:gamma=1,ema'; 'none' = plain GAN; "
                        "default: 'default', the recommended recipe for the data's kind")
    t.add_argument("--lr", type=float, default=None, help="set both lr-g and lr-d")
    t.add_argument("--amp", action="store_true", default=None, help="bf16 autocast on CUDA")
    t.add_argument("--tensorboard", action="store_true", default=None)
    t.add_argument("--config", help="YAML file of config values (flags override it)")
    t.add_argument("--out", help="run directory (default runs/<data>-seed<S>-<time>)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    t.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    t.add_argument("--no-progress", dest="progress", action="store_false", default=None)

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run_dir")
    s.add_argument("-n", type=int, default=2500)
    s.add_argument("-o", "--output", default="samples.npy")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--checkpoint")

    e = sub.add_parser("eval", help="evaluate a run's samples (modes, HQ %, rev-KL, PRDC)")
    e.add_argument("run_dir")
    e.add_argument("-n", type=int, default=None, help="samples to evaluate (default: the run's eval_samples)")
    e.add_argument("--json", action="store_true")
    e.add_argument("--checkpoint")

    d = sub.add_parser("demo", help="plain GAN vs ModeGuard's default recipe on ring8, side by side")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--steps", type=int, default=None)
    d.add_argument("--seed", type=int, default=0)

    sub.add_parser("strategies", help="list the strategies, their options, and the article's remedies")

    dr = sub.add_parser("doctor", help="say whether and when a run collapsed, the evidence, and what to try")
    dr.add_argument("run_dir")
    dr.add_argument("--json", action="store_true")
    dr.add_argument("--no-sample", dest="sample", action="store_false",
                    help="do not sample the checkpoints to find the modes lost")

    rp = sub.add_parser("report", help="write a self-contained HTML report of a run or a bench folder")
    rp.add_argument("dir", help="a run directory or a 'modeguard bench' output folder")
    rp.add_argument("-o", "--output", help="HTML file (default DIR/report.html)")

    b = sub.add_parser("bench", help="benchmark strategy sets x data sets x seeds against the plain GAN")
    b.add_argument("--suite", default="mixtures")
    b.add_argument("--strategies", help="strategy sets separated by '|', e.g. 'none|r1,ema|pacgan' "
                                        "(default: the recipe and every strategy alone)")
    b.add_argument("--data", help="comma-separated data sets (default: the suite's)")
    b.add_argument("--seeds", type=int, default=5)
    b.add_argument("--steps", type=int, default=None, help="steps per run (default: per data set)")
    b.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    b.add_argument("--out", default="bench-out")
    b.add_argument("--resume", action="store_true", help="keep the runs already in OUT/results.csv")
    return p


def cmd_train(args) -> int:
    from .config import TrainConfig
    from .runs import start_run
    from .train import Trainer

    overrides = {k: getattr(args, k) for k in [*TRAIN_FLAGS, "strategies", "amp", "tensorboard", "progress"]
                 if getattr(args, k, None) is not None}
    if args.lr is not None:
        overrides.setdefault("lr_g", args.lr)
        overrides.setdefault("lr_d", args.lr)
    if args.resume:
        if args.config or args.out:
            raise ConfigError("--resume takes its settings from the run; drop --config/--out")
        steps = overrides.pop("steps", None)
        trainer = Trainer.resume(args.resume, steps=steps, **overrides)
        print(f"resuming {args.resume} at step {trainer.ctx.step} of {trainer.ctx.total_steps}")
    else:
        config = TrainConfig.load(args.config) if args.config else TrainConfig()
        for k, v in overrides.items():
            setattr(config, k, v)
        if args.on_collapse is not None and args.monitor_every is None:
            from .monitor.callback import monitor_every_for

            config.monitor_every = monitor_every_for(config)
        trainer = start_run(config, args.out, overwrite=args.overwrite)
        print(f"run directory: {trainer.run.path}")
    if trainer.config.on_collapse == "heal":
        from .monitor.heal import heal_loop

        trainer, result = heal_loop(trainer)
        for h in result.get("heals", []):
            print(f"heal {h['heal']}: {h['cause'].replace('_', ' ')} at step {h['cause_step']}, rolled back to "
                  f"step {h['rolled_back_to']}, {h['change']}")
    else:
        result = trainer.fit()
    _print_result(result)
    print(f"samples: {trainer.run.path / 'final_samples.png'}   metrics: {trainer.run.metrics}")
    return 0


def _print_result(result: dict) -> None:
    keys = ["modes", "modes_strict", "hq_pct", "rev_kl", "kl", "precision", "recall", "density", "coverage", "fd_clf",
            "classifier_acc"]
    parts = [f"{k}={result[k]:.4g}" if isinstance(result[k], float) else f"{k}={result[k]}"
             for k in keys if k in result]
    print("eval: " + "  ".join(parts))


def cmd_sample(args) -> int:
    from .runs import sample_run, save_array, save_sample_grid

    arr = sample_run(args.run_dir, args.n, args.seed, args.checkpoint)
    path = save_array(args.output, arr)
    print(f"wrote {path} {arr.shape}")
    grid = save_sample_grid(path, arr)
    if grid is not None:
        print(f"wrote {grid} (grid of the first {min(len(arr), 100)})")
    return 0


def cmd_eval(args) -> int:
    from .runs import eval_run

    result = eval_run(args.run_dir, args.n, args.checkpoint)
    if args.json:
        print(json.dumps(result))
    else:
        _print_result(result)
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

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
    from .strategies import registry

    for name, cls in sorted(registry().items()):
        remedies = ",".join(map(str, cls.remedies)) or "-"
        print(f"{name:<18} {cls.summary}  [article remedy {remedies}]")
        for opt, o in cls.options.items():
            extra = f" one of {'/'.join(map(str, o.choices))}" if o.choices else ""
            default = "+".join(o.default) if isinstance(o.default, tuple) else o.default
            print(f"    {opt}={default!s:<10} {o.help}{extra}")
    return 0


def cmd_bench(args) -> int:
    from .bench.suites import run_suite

    sets = [x.strip() for x in args.strategies.split("|")] if args.strategies else None
    data = [x.strip() for x in args.data.split(",")] if args.data else None
    results = run_suite(args.suite, args.out, sets, data, args.seeds, args.steps, args.workers,
                        resume=args.resume)
    print((Path(args.out) / "results.md").read_text())
    failed = [r for r in results if "error" in r]
    for r in failed:
        print(f"failed: {r['strategies']} {r['data']} seed {r['seed']}: {r['error']}")
    print(f"results: {Path(args.out) / 'results.csv'}  {Path(args.out) / 'results.md'}")
    return 0


def cmd_doctor(args) -> int:
    from .monitor.doctor import diagnose

    diagnosis = diagnose(args.run_dir, sample_checkpoints=args.sample)
    print(json.dumps(diagnosis.to_dict(), indent=2) if args.json else diagnosis.text())
    return 0


def cmd_report(args) -> int:
    from .report.html import write_report

    print(f"wrote {write_report(args.dir, args.output)}")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "demo": cmd_demo,
            "strategies": cmd_strategies, "bench": cmd_bench, "doctor": cmd_doctor, "report": cmd_report}


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .monitor.callback import CollapseStopped
    from .train import Interrupted

    try:
        return COMMANDS[args.command](args)
    except Interrupted as e:
        print(f"modeguard: {e}; resume with --resume", file=sys.stderr)
        return 130
    except CollapseStopped as e:
        print(f"modeguard: {e}", file=sys.stderr)
        return 4
    except DivergenceError as e:
        print(f"modeguard: error: {e}", file=sys.stderr)
        return 3
    except ModeGuardError as e:
        print(f"modeguard: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
